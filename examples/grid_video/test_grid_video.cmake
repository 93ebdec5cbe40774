# cmake -DEXE=grid_video -DFFMPEG=ffmpeg -DFFPROBE=ffprobe -DMODE=<mode> -DWORK=<dir> -P test_grid_video.cmake
# End-to-end tests of the grid_video example and its ffmpeg adapter (modes: video,
# missing_ffmpeg, broken_pipe, unwritable_output, images, encoder_fallback, grid_too_large).
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})

# Runs the example; sets code, out, err.
function(grid_video)
  execute_process(COMMAND ${EXE} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE o ERROR_VARIABLE e WORKING_DIRECTORY ${WORK})
  set(code "${rc}" PARENT_SCOPE)
  set(out "${o}" PARENT_SCOPE)
  set(err "${e}" PARENT_SCOPE)
endfunction()

function(expect_failure what pattern)
  if(code EQUAL 0 OR NOT code MATCHES "^[0-9]+$")
    message(FATAL_ERROR "${what}: expected a clean non-zero exit, got '${code}'\nstdout: ${out}\nstderr: ${err}")
  endif()
  if(NOT err MATCHES "${pattern}")
    message(FATAL_ERROR "${what}: stderr does not match '${pattern}':\n${err}")
  endif()
endfunction()

function(expect_success what)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "${what}: exit '${code}'\nstdout: ${out}\nstderr: ${err}")
  endif()
endfunction()

# PSNR (dB, average over r, g, b) of two raw rgb24 640x360 frames, via ffmpeg's psnr filter.
function(psnr a b result)
  execute_process(COMMAND ${FFMPEG} -hide_banner -f rawvideo -pix_fmt rgb24 -s 640x360 -i ${a}
                          -f rawvideo -pix_fmt rgb24 -s 640x360 -i ${b} -lavfi psnr -f null -
                  RESULT_VARIABLE rc ERROR_VARIABLE e OUTPUT_QUIET)
  if(NOT e MATCHES "average:([0-9.]+|inf)")
    message(FATAL_ERROR "no PSNR from ffmpeg (${rc}):\n${e}")
  endif()
  set(${result} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

set(small --synthetic 4 --grid 2x2 --size 160x90 --duration 0.5 --fps 10 --policy simd)

if(MODE STREQUAL "video")
  # 2 s of 640x360 at 30 fps; keep the composed frame 17 to compare with the decoded one.
  grid_video(--synthetic 12 --grid 4x3 --size 640x360 --duration 2 --fps 30 --output ${WORK}/grid.mp4
             --dump-frame 17 ${WORK}/frame17.rgb)
  expect_success("2-second video")
  if(NOT out MATCHES "composition: [0-9.]+ fps" OR NOT out MATCHES "end to end: +[0-9.]+ fps")
    message(FATAL_ERROR "no fps report:\n${out}")
  endif()
  execute_process(COMMAND ${FFPROBE} -v error -count_frames -show_entries
                          stream=codec_name,width,height,nb_read_frames:format=duration -of default=nw=1 ${WORK}/grid.mp4
                  OUTPUT_VARIABLE probe RESULT_VARIABLE rc)
  foreach(expected "codec_name=h264" "width=640" "height=360" "nb_read_frames=60")
    if(NOT probe MATCHES "${expected}")
      message(FATAL_ERROR "ffprobe: expected ${expected}:\n${probe}")
    endif()
  endforeach()
  if(NOT probe MATCHES "duration=([0-9.]+)")
    message(FATAL_ERROR "ffprobe: no duration:\n${probe}")
  endif()
  if(CMAKE_MATCH_1 LESS 1.95 OR CMAKE_MATCH_1 GREATER 2.05)
    message(FATAL_ERROR "duration ${CMAKE_MATCH_1}, expected 2 s")
  endif()
  foreach(n 17 40)
    execute_process(COMMAND ${FFMPEG} -v error -i ${WORK}/grid.mp4 -vf "select=eq(n\\,${n})" -frames:v 1
                            -f rawvideo -pix_fmt rgb24 -y ${WORK}/decoded${n}.rgb RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "could not extract frame ${n}")
    endif()
  endforeach()
  psnr(${WORK}/frame17.rgb ${WORK}/decoded17.rgb same)
  psnr(${WORK}/frame17.rgb ${WORK}/decoded40.rgb other)
  message(STATUS "PSNR of frame 17 after x264: ${same} dB (against frame 40: ${other} dB)")
  if(NOT same STREQUAL "inf" AND same LESS 30)
    message(FATAL_ERROR "frame 17 decodes to PSNR ${same} dB; expected > 30")
  endif()
  if(NOT other LESS same)
    message(FATAL_ERROR "frame 40 matches frame 17 as well (${other} dB): the wrong frame was compared")
  endif()

elseif(MODE STREQUAL "missing_ffmpeg")
  grid_video(${small} --output ${WORK}/a.mp4 --ffmpeg ${WORK}/no/such/ffmpeg)
  expect_failure("--ffmpeg pointing nowhere" "ffmpeg not found")
  execute_process(COMMAND ${CMAKE_COMMAND} -E env PATH=${WORK}/empty ${EXE} ${small} --output ${WORK}/b.mp4
                  RESULT_VARIABLE code ERROR_VARIABLE err OUTPUT_VARIABLE out)
  expect_failure("no ffmpeg in PATH" "ffmpeg not found")

elseif(MODE STREQUAL "broken_pipe")
  # An "ffmpeg" that reads a little, complains and exits: the pipe breaks mid-stream.
  file(WRITE ${WORK}/dying_ffmpeg "#!/bin/sh\nhead -c 100000 > /dev/null\necho 'fake ffmpeg: simulated encoder crash' >&2\nexit 3\n")
  file(CHMOD ${WORK}/dying_ffmpeg PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
  grid_video(--synthetic 4 --grid 2x2 --size 640x360 --duration 2 --fps 30 --policy simd --output ${WORK}/c.mp4
             --ffmpeg ${WORK}/dying_ffmpeg)
  expect_failure("ffmpeg dying mid-stream" "ffmpeg stopped reading frames.*exit status 3.*simulated encoder crash")

elseif(MODE STREQUAL "unwritable_output")
  grid_video(${small} --output ${WORK}/no/such/dir/out.mp4)
  expect_failure("unwritable output" "cannot write '.*out.mp4'")

elseif(MODE STREQUAL "images")
  file(MAKE_DIRECTORY ${WORK}/photos ${WORK}/broken)
  foreach(name a b)
    execute_process(COMMAND ${FFMPEG} -v error -f lavfi -i testsrc=size=320x240:rate=1 -frames:v 1 -y ${WORK}/photos/${name}.png
                    RESULT_VARIABLE rc)
  endforeach()
  file(WRITE ${WORK}/photos/c.jpg "this is not a JPEG")
  file(WRITE ${WORK}/broken/x.png "nor is this a PNG")
  grid_video(--images ${WORK}/photos --grid 2x1 --size 160x90 --duration 0.5 --fps 10 --output ${WORK}/d.mp4)
  expect_success("a folder with a corrupt image")
  if(NOT err MATCHES "warning: skipping .*c.jpg")
    message(FATAL_ERROR "no warning about c.jpg:\n${err}")
  endif()
  grid_video(--images ${WORK}/broken --grid 1x1 --size 160x90 --duration 0.5 --fps 10 --output ${WORK}/e.mp4)
  expect_failure("only corrupt images" "no readable images")
  grid_video(--images ${WORK}/no/such/folder --grid 1x1 --size 160x90 --duration 0.5 --fps 10 --output ${WORK}/f.mp4)
  expect_failure("a missing folder" "cannot read the image folder")

elseif(MODE STREQUAL "encoder_fallback")
  grid_video(${small} --output ${WORK}/g.mp4 --encoder h264_nonexistent)
  expect_success("an encoder ffmpeg does not have")
  if(NOT err MATCHES "h264_nonexistent is not available.*falling back to libx264")
    message(FATAL_ERROR "no fallback message:\n${err}")
  endif()
  # Listed by Debian's ffmpeg but unusable without the hardware: fails to open, falls back.
  grid_video(${small} --output ${WORK}/h.mp4 --encoder h264_nvenc)
  expect_success("an encoder that fails to open")
  if(NOT err MATCHES "h264_nvenc failed to open.*falling back to libx264" AND NOT out MATCHES "h264_nvenc")
    message(FATAL_ERROR "h264_nvenc neither worked nor fell back:\n${out}\n${err}")
  endif()

elseif(MODE STREQUAL "grid_too_large")
  grid_video(--synthetic 3 --grid 2x2 --size 160x90 --duration 0.5 --fps 10 --output ${WORK}/i.mp4)
  expect_failure("a grid larger than the images" "2x2 grid needs 4 images but only 3")
  grid_video(--synthetic 3 --grid 2x2 --size 160x90 --duration 0.5 --fps 10 --output ${WORK}/j.mp4 --repeat)
  expect_success("--repeat")
  grid_video(--synthetic 3 --grid 200x1 --size 160x90 --duration 0.5 --fps 10 --output ${WORK}/k.mp4 --repeat)
  expect_failure("a grid finer than the canvas" "too fine")

else()
  message(FATAL_ERROR "unknown MODE ${MODE}")
endif()
