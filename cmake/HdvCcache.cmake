# Use ccache when present. The sloppiness settings let ccache cache translation units that use
# the shared precompiled header (cmake/HdvPrecompiled.cmake).
find_program(HDV_CCACHE ccache)
if(HDV_CCACHE)
  # CCACHE_BASEDIR makes paths relative, so fresh clones elsewhere (CI) reuse the cache.
  set(_hdv_launcher ${CMAKE_COMMAND} -E env
      CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
      CCACHE_BASEDIR=${CMAKE_SOURCE_DIR}
      ${HDV_CCACHE})
  set(CMAKE_C_COMPILER_LAUNCHER ${_hdv_launcher})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${_hdv_launcher})
endif()
