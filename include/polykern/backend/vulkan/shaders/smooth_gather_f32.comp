#version 450
#extension GL_GOOGLE_include_directive : require
// Gathering a chunk's values, float. The body is smooth_gather_body.glsl.
#define T float
#include "smooth_gather_body.glsl"
