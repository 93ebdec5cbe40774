#version 450
#extension GL_GOOGLE_include_directive : require
// Gaussian weights, float. The body is smooth_weights_body.glsl.
#define T float
#define EXP exp
#include "smooth_weights_body.glsl"
