#version 450
// Image warps on Vulkan (warp_affine, resize, compose): one shader for every sampler, so
// one pipeline to compile. The host (backend/vulkan/warp.hpp) uploads a piece of the
// destination (a band of rows, or part of one), the source rectangles the piece needs, and the plan: one 40-word record per job
// (tile) plus its spans and tables. Every destination pixel asks the jobs from the last to
// the first whether their span covers it, and the first that does samples it (later tiles
// on top); pixels no job covers keep their value.
//
// uint8 images are packed four bytes to a uint (no 8-bit storage needed); rows start on a
// word. One invocation owns one destination word (uint8) or pixel (float), so RGB pixels
// that straddle words are computed by both neighbours and no two invocations write a word.
// The arithmetic is the CPU reference's (backend/scalar/warp.hpp): exact split coordinates,
// lerp-form bilinear, zero-weight taps not read, uint8 rounded half to even and saturated.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Src { uint src[]; };
layout(std430, binding = 1) buffer Dst { uint dst[]; };
layout(std430, binding = 2) readonly buffer Meta { uint meta[]; };

layout(push_constant) uniform Push {
  uint width;     // destination pixels per row of this piece
  uint rows;      // rows of this piece
  uint x0, y0;    // destination pixel of the piece's first pixel
  uint channels;  // 1..4
  uint is_float;  // 0: uint8 packed, 1: float
  uint stride;    // words per row in the piece's buffer
  uint jobs;      // job records at meta[0 .. 40*jobs)
} pc;

// Job record fields (keep in sync with backend/vulkan/warp.hpp).
const uint JOB_WORDS = 40u;
const uint KIND = 0u, MODE = 1u, VALUE = 2u, SRC = 3u, SW = 4u, SH = 5u, SSTRIDE = 6u;
const uint RX = 7u, RY = 8u, RW = 9u, RH = 10u;
const uint X0 = 11u, Y0 = 12u, X1 = 13u, Y1 = 14u, SPANS = 15u, OX = 16u, OY = 17u;
const uint CX = 18u, CY = 24u;  // a.hi a.lo b.hi b.lo c.hi c.lo of sx and sy
const uint XT_OFF = 30u, XT_IDX = 31u, XT_W = 32u, YT_OFF = 33u, YT_IDX = 34u, YT_W = 35u;
const uint NSUB = 36u, SUB = 37u;
const uint NONE = 0xFFFFFFFFu;
const uint BILINEAR = 0u, NEAREST = 1u, NEAREST_TABLE = 2u, AREA_TABLE = 3u, SUPERSAMPLE = 4u;

float metaf(uint i) { return uintBitsToFloat(meta[i]); }
int metai(uint i) { return int(meta[i]); }

// A job record, loaded once per pixel (buffer loads are what costs on CPU devices).
struct Job {
  uint kind, mode, src, sstride;
  float value;
  int sw, sh, rx, ry, rw, rh, x0, y0, ox, oy;
  vec2 ax, bx, cx, ay, by, cy;  // (hi, lo) of each coefficient
  uint xt_off, xt_idx, xt_w, yt_off, yt_idx, yt_w, nsub, sub;
};

Job load_job(uint j) {
  Job J;
  J.kind = meta[j + KIND], J.mode = meta[j + MODE], J.src = meta[j + SRC], J.sstride = meta[j + SSTRIDE];
  J.value = metaf(j + VALUE);
  J.sw = metai(j + SW), J.sh = metai(j + SH), J.rx = metai(j + RX), J.ry = metai(j + RY);
  J.rw = metai(j + RW), J.rh = metai(j + RH), J.x0 = metai(j + X0), J.y0 = metai(j + Y0);
  J.ox = metai(j + OX), J.oy = metai(j + OY);
  J.ax = vec2(metaf(j + CX), metaf(j + CX + 1u)), J.bx = vec2(metaf(j + CX + 2u), metaf(j + CX + 3u));
  J.cx = vec2(metaf(j + CX + 4u), metaf(j + CX + 5u));
  J.ay = vec2(metaf(j + CY), metaf(j + CY + 1u)), J.by = vec2(metaf(j + CY + 2u), metaf(j + CY + 3u));
  J.cy = vec2(metaf(j + CY + 4u), metaf(j + CY + 5u));
  J.xt_off = meta[j + XT_OFF], J.xt_idx = meta[j + XT_IDX], J.xt_w = meta[j + XT_W];
  J.yt_off = meta[j + YT_OFF], J.yt_idx = meta[j + YT_IDX], J.yt_w = meta[j + YT_W];
  J.nsub = meta[j + NSUB], J.sub = meta[j + SUB];
  return J;
}

// a mod m in [0, m) without % on negative operands (undefined in GLSL).
int positive_mod(int a, int m) { return a >= 0 ? a % m : m - 1 - ((-a - 1) % m); }

// border.hpp's detail::border_index; modes in polykern::border order.
int border_index(int p, int n, uint mode) {
  if (p >= 0 && p < n) return p;
  if (mode == 2u) return p < 0 ? 0 : n - 1;  // replicate
  if (mode == 3u) return -1;                 // constant
  if (mode == 4u) return positive_mod(p, n); // wrap
  if (mode == 0u) {                          // reflect
    int q = positive_mod(p, 2 * n);
    return q < n ? q : 2 * n - 1 - q;
  }
  if (n == 1) return 0;  // reflect101
  int q = positive_mod(p, 2 * n - 2);
  return q < n ? q : 2 * n - 2 - q;
}

// Source pixel (ix, iy) of job J, all channels (unused ones undefined), clamped into its
// uploaded rectangle.
vec4 fetch(in Job J, int ix, int iy) {
  int rx = clamp(ix - J.rx, 0, J.rw - 1), ry = clamp(iy - J.ry, 0, J.rh - 1);
  uint row = J.src + uint(ry) * J.sstride;
  uint C = pc.channels;
  if (pc.is_float != 0u) {
    uint i = row + uint(rx) * C;
    vec4 v = vec4(uintBitsToFloat(src[i]), 0.0, 0.0, 0.0);
    if (C > 1u) v.y = uintBitsToFloat(src[i + 1u]);
    if (C > 2u) v.z = uintBitsToFloat(src[i + 2u]);
    if (C > 3u) v.w = uintBitsToFloat(src[i + 3u]);
    return v;
  }
  uint b = uint(rx) * C, wi = row + (b >> 2u), shift = (b & 3u) * 8u;
  uint word = src[wi] >> shift;
  if (shift != 0u && (b & 3u) + C > 4u) word |= src[wi + 1u] << (32u - shift);  // the pixel straddles two words
  return vec4(float(word & 0xFFu), float((word >> 8u) & 0xFFu), float((word >> 16u) & 0xFFu), float(word >> 24u));
}

vec4 tap(in Job J, int ix, int iy) { return ix < 0 || iy < 0 ? vec4(J.value) : fetch(J, ix, iy); }

vec4 bilinear(in Job J, int x0, int y0, float fx, float fy) {
  int ix0 = border_index(x0, J.sw, J.mode), iy0 = border_index(y0, J.sh, J.mode);
  vec4 p00 = tap(J, ix0, iy0);
  vec4 v0 = p00;
  if (fx != 0.0) v0 = fma(vec4(fx), tap(J, border_index(x0 + 1, J.sw, J.mode), iy0) - p00, p00);
  if (fy == 0.0) return v0;  // taps of zero weight are not read
  int iy1 = border_index(y0 + 1, J.sh, J.mode);
  vec4 p10 = tap(J, ix0, iy1);
  vec4 v1 = p10;
  if (fx != 0.0) v1 = fma(vec4(fx), tap(J, border_index(x0 + 1, J.sw, J.mode), iy1) - p10, p10);
  return fma(vec4(fy), v1 - v0, v0);
}

// The coordinate of destination (x, y) along one axis: integral part and small remainder.
void coordinate(vec2 a, vec2 b, vec2 c, float xr, float yr, out float whole, out float part) {
  float h = fma(b.x, yr, c.x), l = fma(b.y, yr, c.y);
  float big = fma(a.x, xr, h);  // exact: every term is on the grid
  whole = floor(big);
  part = (big - whole) + fma(a.y, xr, l);
}

vec4 sample_pixel(in Job J, int x, int y) {
  if (J.kind == NEAREST_TABLE) {
    int ix = metai(J.xt_idx + uint(x - J.x0)), iy = metai(J.yt_idx + uint(y - J.y0));
    return fetch(J, ix, iy);
  }
  if (J.kind == AREA_TABLE) {
    uint xo = J.xt_off + uint(x - J.x0), yo = J.yt_off + uint(y - J.y0);
    uint xa = meta[xo], xb = meta[xo + 1u], ya = meta[yo], yb = meta[yo + 1u];
    vec4 sum = vec4(0.0);
    for (uint tx = xa; tx < xb; ++tx) {
      int ix = metai(J.xt_idx + tx);
      vec4 column = vec4(0.0);
      for (uint ty = ya; ty < yb; ++ty) column = fma(vec4(metaf(J.yt_w + ty)), fetch(J, ix, metai(J.yt_idx + ty)), column);
      sum = fma(vec4(metaf(J.xt_w + tx)), column, sum);
    }
    return sum;
  }
  float xr = float(x - J.ox), yr = float(y - J.oy);
  float wx, px, wy, py;
  coordinate(J.ax, J.bx, J.cx, xr, yr, wx, px);
  coordinate(J.ay, J.by, J.cy, xr, yr, wy, py);
  if (J.kind == NEAREST)
    return tap(J, border_index(int(wx + floor(px + 0.5)), J.sw, J.mode), border_index(int(wy + floor(py + 0.5)), J.sh, J.mode));
  if (J.kind == BILINEAR) {
    float fx = floor(px), fy = floor(py);
    return bilinear(J, int(wx + fx), int(wy + fy), px - fx, py - fy);
  }
  // SUPERSAMPLE: mean of bilinear samples at the stored offsets.
  vec4 sum = vec4(0.0);
  for (uint i = 0u; i < J.nsub; ++i) {
    float sx = px + metaf(J.sub + 2u * i), sy = py + metaf(J.sub + 2u * i + 1u);
    float fx = floor(sx), fy = floor(sy);
    sum += bilinear(J, int(wx + fx), int(wy + fy), sx - fx, sy - fy);
  }
  return sum * (1.0 / float(J.nsub));
}

// The topmost job covering destination pixel (x, y) (its record's word index), or NONE.
uint cover(int x, int y) {
  for (int t = int(pc.jobs) - 1; t >= 0; --t) {
    uint j = uint(t) * JOB_WORDS;
    int y0 = metai(j + Y0);
    if (y < y0 || y >= metai(j + Y1)) continue;
    int a = metai(j + X0), b = metai(j + X1);
    if (meta[j + SPANS] != NONE) {
      uint s = meta[j + SPANS] + 2u * uint(y - y0);
      a = metai(s), b = metai(s + 1u);
    }
    if (x >= a && x < b) return j;
  }
  return NONE;
}

uint to_byte(float v) { return uint(clamp(roundEven(v), 0.0, 255.0)); }

void main() {
  uint step_x = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  uint C = pc.channels;
  for (uint r = gl_GlobalInvocationID.y; r < pc.rows; r += gl_NumWorkGroups.y) {
    int y = int(pc.y0 + r);
    uint row = r * pc.stride;
    if (pc.is_float != 0u) {
      for (uint x = gl_GlobalInvocationID.x; x < pc.width; x += step_x) {
        uint j = cover(int(pc.x0 + x), y);
        if (j == NONE) continue;
        vec4 v = sample_pixel(load_job(j), int(pc.x0 + x), y);
        uint o = row + x * C;
        dst[o] = floatBitsToUint(v.x);
        if (C > 1u) dst[o + 1u] = floatBitsToUint(v.y);
        if (C > 2u) dst[o + 2u] = floatBitsToUint(v.z);
        if (C > 3u) dst[o + 3u] = floatBitsToUint(v.w);
      }
      continue;
    }
    uint bytes = pc.width * C;
    for (uint k = gl_GlobalInvocationID.x; k < pc.stride; k += step_x) {
      // The (at most four) pixels this word's bytes belong to.
      uint first = (4u * k) / C, last = (min(4u * k + 4u, bytes) - 1u) / C;
      uint word = dst[row + k];
      bool changed = false;
      for (uint p = first; p <= last; ++p) {
        uint j = cover(int(pc.x0 + p), y);
        if (j == NONE) continue;
        uvec4 q = uvec4(clamp(roundEven(sample_pixel(load_job(j), int(pc.x0 + p), y)), 0.0, 255.0));
        for (uint c = 0u; c < C; ++c) {
          uint e = p * C + c;
          if (e < 4u * k || e >= 4u * k + 4u || e >= bytes) continue;
          uint shift = 8u * (e - 4u * k);
          word = (word & ~(0xFFu << shift)) | (q[c] << shift);
          changed = true;
        }
      }
      if (changed) dst[row + k] = word;
    }
  }
}
