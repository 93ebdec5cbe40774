#version 450
// Affine transform of xyz points or normals, float. One invocation per point.
// in: points with a stride of `in_stride` floats; out: packed xyz (float[3*i], never vec3).
// Segment table of this chunk: starts[s] is the first point of segment s (starts[0] = 0,
// strictly increasing), mats[12*s ..] its row-major 3x4 coefficients ([R | t] for points,
// [N | 0] for normals, N proportional to inverse(R)^T).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool NORMALS = false;
layout(std430, binding = 0) readonly buffer In { float src[]; };
layout(std430, binding = 1) writeonly buffer Out { float dst[]; };
layout(std430, binding = 2) readonly buffer Starts { uint starts[]; };
layout(std430, binding = 3) readonly buffer Matrices { float mats[]; };
layout(push_constant) uniform Push {
  uint count;      // points in this chunk
  uint segments;   // entries in starts / mats
  uint in_stride;  // floats between input points
  uint row_width;  // invocations per row of the 2D grid
} pc;

void main() {
  const uint i = gl_GlobalInvocationID.y * pc.row_width + gl_GlobalInvocationID.x;
  if (i >= pc.count) return;
  uint lo = 0, hi = pc.segments;  // the last segment starting at or before i
  while (hi - lo > 1) {
    const uint mid = (lo + hi) / 2;
    if (starts[mid] <= i) lo = mid; else hi = mid;
  }
  const uint m = 12 * lo, p = i * pc.in_stride;
  const float x = src[p], y = src[p + 1], z = src[p + 2];
  float a, b, c;
  if (NORMALS) {
    a = fma(mats[m + 0], x, fma(mats[m + 1], y, mats[m + 2] * z));
    b = fma(mats[m + 4], x, fma(mats[m + 5], y, mats[m + 6] * z));
    c = fma(mats[m + 8], x, fma(mats[m + 9], y, mats[m + 10] * z));
    const float len2 = fma(a, a, fma(b, b, c * c));
    if (len2 != 0.0) {  // a zero normal stays zero
      const float inv = 1.0 / sqrt(len2);
      a *= inv, b *= inv, c *= inv;
    }
  } else {
    a = fma(mats[m + 0], x, fma(mats[m + 1], y, fma(mats[m + 2], z, mats[m + 3])));
    b = fma(mats[m + 4], x, fma(mats[m + 5], y, fma(mats[m + 6], z, mats[m + 7])));
    c = fma(mats[m + 8], x, fma(mats[m + 9], y, fma(mats[m + 10], z, mats[m + 11])));
  }
  dst[3 * i] = a, dst[3 * i + 1] = b, dst[3 * i + 2] = c;
}
