# hdv_pch: the one precompiled header every torch-using target reuses (REUSE_FROM). Headers of
# the project never include <torch/torch.h>; .cpp files do, and get it from this PCH for free.
add_library(hdv_pch STATIC ${CMAKE_CURRENT_LIST_DIR}/pch.cpp)
target_link_libraries(hdv_pch PUBLIC hdv::torch hdv_options)
target_precompile_headers(hdv_pch PRIVATE <torch/torch.h>)

# Link hdv_pch's settings into TARGET and reuse its precompiled header.
function(hdv_use_pch target)
  target_precompile_headers(${target} REUSE_FROM hdv_pch)
endfunction()
