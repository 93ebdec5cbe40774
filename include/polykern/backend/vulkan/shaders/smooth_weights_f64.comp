#version 450
#extension GL_GOOGLE_include_directive : require
// Gaussian weights, double (needs shaderFloat64). GLSL has no double exp, so exp_d
// below: x = k ln2 + r with |r| <= ln2/2 (ln2 in two parts), exp(r) by its Taylor
// series to degree 13 (truncation < 2e-17 relative), times 2^k. Accurate to about one
// ulp; exp of the arguments used here (a * dist2 <= 0) below -708 is 0.
#define T double

double exp_d(double x) {
  if (x < -708.0lf) return 0.0lf;
  double k = roundEven(x * 1.4426950408889634074lf);
  double r = fma(-k, 6.93147180369123816490e-01lf, x);
  r = fma(-k, 1.90821492927058770002e-10lf, r);
  double p = 1.0lf / 6227020800.0lf;            // 1/13!
  p = fma(p, r, 1.0lf / 479001600.0lf);         // 1/12!
  p = fma(p, r, 1.0lf / 39916800.0lf);
  p = fma(p, r, 1.0lf / 3628800.0lf);
  p = fma(p, r, 1.0lf / 362880.0lf);
  p = fma(p, r, 1.0lf / 40320.0lf);
  p = fma(p, r, 1.0lf / 5040.0lf);
  p = fma(p, r, 1.0lf / 720.0lf);
  p = fma(p, r, 1.0lf / 120.0lf);
  p = fma(p, r, 1.0lf / 24.0lf);
  p = fma(p, r, 1.0lf / 6.0lf);
  p = fma(p, r, 0.5lf);
  p = fma(p, r, 1.0lf);
  p = fma(p, r, 1.0lf);
  return ldexp(p, int(k));
}
#define EXP exp_d
#include "smooth_weights_body.glsl"
