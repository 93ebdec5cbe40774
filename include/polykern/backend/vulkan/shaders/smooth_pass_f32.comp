#version 450
#extension GL_GOOGLE_include_directive : require
// One smoothing pass, float. The body is smooth_pass_body.glsl.
#define T float
#include "smooth_pass_body.glsl"
