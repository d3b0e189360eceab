# Find LibTorch and wrap it as hdv::torch.
#
# Order: an explicit Torch_DIR / CMAKE_PREFIX_PATH (any LibTorch: CUDA zip, conda, a cluster
# module), else the set-up's virtual environment ($HDV_VENV, default ~/.cache/hdvila/venv), asked
# through `torch.utils.cmake_prefix_path`.
#
# TorchConfig's CUDA discovery otherwise compiles and runs a probe to find the GPUs of the build
# machine (none on ours); name the architectures instead: 9.0 = H100/H200.
if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(TORCH_CUDA_ARCH_LIST "9.0" CACHE STRING "CUDA architectures for LibTorch's CUDA flags")
endif()
find_package(Torch QUIET)
if(NOT Torch_FOUND)
  if(DEFINED ENV{HDV_VENV})
    set(_hdv_venv $ENV{HDV_VENV})
  else()
    set(_hdv_venv $ENV{HOME}/.cache/hdvila/venv)
  endif()
  if(EXISTS ${_hdv_venv}/bin/python)
    execute_process(
      COMMAND ${_hdv_venv}/bin/python -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
      OUTPUT_VARIABLE _hdv_torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _hdv_rc)
    if(_hdv_rc EQUAL 0)
      list(APPEND CMAKE_PREFIX_PATH ${_hdv_torch_prefix})
    endif()
  endif()
  find_package(Torch)
endif()
if(NOT Torch_FOUND)
  message(FATAL_ERROR
    "LibTorch not found. Run scripts/setup.sh (installs the PyPI torch wheel into "
    "~/.cache/hdvila/venv), or point CMAKE_PREFIX_PATH at a LibTorch >= 2.4.")
endif()
if(Torch_VERSION VERSION_LESS 2.4)
  message(FATAL_ERROR "LibTorch ${Torch_VERSION} found at ${Torch_DIR}; hdvila needs >= 2.4")
endif()

set(HDV_TORCH_HAS_CUDA OFF)
if(CAFFE2_USE_CUDA)
  set(HDV_TORCH_HAS_CUDA ON)
endif()
option(HDV_CUDA "Link LibTorch's CUDA libraries and build CUDA code" ${HDV_TORCH_HAS_CUDA})
if(HDV_CUDA AND NOT HDV_TORCH_HAS_CUDA)
  message(FATAL_ERROR "HDV_CUDA=ON but the LibTorch at ${Torch_DIR} was built without CUDA")
endif()

get_filename_component(HDV_TORCH_LIB_DIR ${TORCH_LIBRARY} DIRECTORY)
add_library(hdv_torch INTERFACE)
add_library(hdv::torch ALIAS hdv_torch)
if(HDV_CUDA)
  target_link_libraries(hdv_torch INTERFACE ${TORCH_LIBRARIES})
  target_compile_definitions(hdv_torch INTERFACE HDV_CUDA=1)
else()
  # CPU only: the CPU half of LibTorch, even when the package also holds CUDA libraries.
  find_library(HDV_TORCH_CPU_LIBRARY torch_cpu PATHS ${HDV_TORCH_LIB_DIR} NO_DEFAULT_PATH REQUIRED)
  find_library(HDV_C10_LIBRARY c10 PATHS ${HDV_TORCH_LIB_DIR} NO_DEFAULT_PATH REQUIRED)
  target_link_libraries(hdv_torch INTERFACE ${HDV_TORCH_CPU_LIBRARY} ${HDV_C10_LIBRARY})
  target_include_directories(hdv_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  target_compile_options(hdv_torch INTERFACE ${TORCH_CXX_FLAGS})
endif()

# The PyPI wheel keeps CUDA, cuDNN and NCCL in site-packages/nvidia/*/lib and finds them at run
# time through its own RPATH; the linker needs to be told where they are, or it resolves
# libtorch_cuda's NCCL symbols against an older system copy.
file(GLOB _hdv_wheel_nvidia_libs LIST_DIRECTORIES true ${HDV_TORCH_LIB_DIR}/../../nvidia/*/lib)
foreach(_dir IN LISTS _hdv_wheel_nvidia_libs)
  target_link_options(hdv_torch INTERFACE "LINKER:-rpath-link,${_dir}")
endforeach()
