#version 450
#extension GL_GOOGLE_include_directive : require
// One smoothing pass, double (needs shaderFloat64). The body is smooth_pass_body.glsl.
#define T double
#include "smooth_pass_body.glsl"
