# GLSL compute shaders live next to the Vulkan backend and are embedded as committed
# headers, so users never need glslc. `polykern_shaders` regenerates them in the source
# tree (a deliberate developer action); the test `vulkan_shaders_up_to_date` compiles
# them into the build tree and fails when a committed header has drifted.
find_program(GLSLC_EXECUTABLE glslc)
set(polykern_shader_dir ${CMAKE_CURRENT_SOURCE_DIR}/include/polykern/backend/vulkan/shaders)
file(GLOB polykern_shader_sources CONFIGURE_DEPENDS ${polykern_shader_dir}/*.comp)
if(GLSLC_EXECUTABLE)
  set(regenerated)
  foreach(src IN LISTS polykern_shader_sources)
    get_filename_component(name ${src} NAME_WE)
    set(out ${polykern_shader_dir}/${name}.spv.hpp)
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -DGLSLC=${GLSLC_EXECUTABLE} -DSOURCE=${src} -DOUTPUT=${out}
              -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_spirv.cmake
      DEPENDS ${src} ${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_spirv.cmake
      COMMENT "Embedding SPIR-V of ${name}.comp" VERBATIM)
    list(APPEND regenerated ${out})
  endforeach()
  add_custom_target(polykern_shaders DEPENDS ${regenerated})
endif()
