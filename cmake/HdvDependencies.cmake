# Third-party libraries, all from Debian packages (docs/design.md §3). Nothing is vendored.
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(fmt REQUIRED)

# CLI11 is header-only; Debian ships a CMake package for it, other systems may only have the header.
find_package(CLI11 CONFIG QUIET)
if(NOT TARGET CLI11::CLI11)
  find_path(HDV_CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  target_include_directories(CLI11::CLI11 INTERFACE ${HDV_CLI11_INCLUDE_DIR})
endif()

# stb: Debian's libstb already holds the compiled implementations (never define STB_*_IMPLEMENTATION).
# Found by path rather than pkg-config so that an unpacked .deb on CMAKE_PREFIX_PATH works too
# (scripts/gpu_check.sh).
find_path(HDV_STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb REQUIRED)
find_library(HDV_STB_LIBRARY stb REQUIRED)
add_library(hdv_stb INTERFACE)
add_library(hdv::stb ALIAS hdv_stb)
target_include_directories(hdv_stb SYSTEM INTERFACE ${HDV_STB_INCLUDE_DIR})
target_link_libraries(hdv_stb INTERFACE ${HDV_STB_LIBRARY})

if(HDV_VIDEO)
  find_package(OpenCV REQUIRED COMPONENTS core imgproc videoio)
endif()

if(HDV_BUILD_APP)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(IMGUI REQUIRED IMPORTED_TARGET imgui)
  pkg_check_modules(GLFW REQUIRED IMPORTED_TARGET glfw3)
  set(OpenGL_GL_PREFERENCE GLVND)
  find_package(OpenGL REQUIRED)
endif()

if(HDV_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
  # Python from the set-up's venv: interop and parity tests call it (torch, safetensors, numpy).
  if(NOT HDV_PYTHON)
    if(DEFINED ENV{HDV_VENV})
      set(_hdv_py $ENV{HDV_VENV}/bin/python)
    else()
      set(_hdv_py $ENV{HOME}/.cache/hdvila/venv/bin/python)
    endif()
    if(NOT EXISTS ${_hdv_py})
      find_program(_hdv_py python3 REQUIRED)
    endif()
    set(HDV_PYTHON ${_hdv_py} CACHE FILEPATH "Python with torch, safetensors and numpy for tests")
  endif()
endif()
