# GLSL compute shaders live next to the Vulkan backend and are embedded as committed
# headers, so users never need glslc. `cmake --build <dir> --target polykern_shaders`
# regenerates them in the source tree; that is the only way a build writes there (the
# target is not part of ALL and declares no outputs, so no ordinary build, whatever the
# files' timestamps after a clone, rewrites a committed header). The test
# `vulkan_shaders_up_to_date` compiles them into the build tree and fails on drift.
find_program(GLSLC_EXECUTABLE glslc)
set(polykern_shader_dir ${CMAKE_CURRENT_SOURCE_DIR}/include/polykern/backend/vulkan/shaders)
file(GLOB polykern_shader_sources CONFIGURE_DEPENDS ${polykern_shader_dir}/*.comp)
if(GLSLC_EXECUTABLE)
  set(regenerate_commands)
  foreach(src IN LISTS polykern_shader_sources)
    get_filename_component(name ${src} NAME_WE)
    list(APPEND regenerate_commands
      COMMAND ${CMAKE_COMMAND} -DGLSLC=${GLSLC_EXECUTABLE} -DSOURCE=${src}
              -DOUTPUT=${polykern_shader_dir}/${name}.spv.hpp -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_spirv.cmake)
  endforeach()
  add_custom_target(polykern_shaders ${regenerate_commands}
    COMMENT "Regenerating the committed SPIR-V headers in ${polykern_shader_dir}" VERBATIM)
endif()
