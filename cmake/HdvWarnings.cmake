# hdv_options: warnings and sanitizers every hdvila target builds with.
add_library(hdv_options INTERFACE)
target_compile_options(hdv_options INTERFACE -Wall -Wextra -Wno-unused-parameter)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports LibTorch's inlined option structs (InterpolateFuncOptions) as maybe-uninitialized.
  target_compile_options(hdv_options INTERFACE -Wno-maybe-uninitialized)
endif()
if(HDV_WERROR)
  target_compile_options(hdv_options INTERFACE -Werror)
endif()
if(HDV_SANITIZE)
  target_compile_options(hdv_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(hdv_options INTERFACE -fsanitize=address,undefined)
endif()
if(HDV_FUZZ)
  # Coverage feedback for libFuzzer plus ASan + UBSan; a UB report aborts, so libFuzzer saves the
  # input. The fuzz executables add -fsanitize=fuzzer (libFuzzer's main) when linking.
  target_compile_options(hdv_options INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                         -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(hdv_options INTERFACE -fsanitize=address,undefined)
endif()
