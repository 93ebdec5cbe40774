#version 450
#extension GL_EXT_control_flow_attributes : require
// Row filter of the convolution family: dst(y, e) = sum_j sum_i k[j][i] * in(row_j, e + (i - ax)*C),
// i.e. the direct 2D method (kh rows of the source) and the horizontal pass of the separable
// method (kh = 1, reading the vertical pass's float rows). A workgroup computes TE = WG*4
// consecutive elements of one output row; for every kernel row the input segment it needs
// (border applied) is staged in shared memory, in pieces of taps when it is wider than
// the tile. Outputs are floats or uint8 packed four to a word; several separable terms
// accumulate in a float buffer (mode).
layout(local_size_x_id = 0) in;
const uint PER = 4;      // consecutive outputs per invocation (one uint8 word)
const uint SH = 4096;    // shared floats (16 KiB, the Vulkan minimum)
shared float tile[SH];

layout(std430, binding = 0) readonly buffer Src { uint src[]; };
layout(std430, binding = 1) readonly buffer Params { uint params[]; };  // taps (float bits), row tables
layout(std430, binding = 2) buffer Dst { uint dst[]; };
layout(std430, binding = 3) buffer Acc { float accum[]; };

layout(push_constant) uniform Push {
  uint in_offset;    // to the binding's first row: elements (float) or bytes (uint8)
  uint in_stride;    // per row: elements (float) or bytes (uint8)
  uint in_u8;
  uint out_offset;   // words
  uint out_stride;   // words per row
  uint out_u8;
  uint width;        // pixels
  uint channels;
  uint kw, kh, ax;
  uint table;        // params index of the row table (int per window row), or ~0u: row = y + j
  uint k_offset;     // params index of k[0][0]
  uint mode;         // 0 store, 1 accum = v, 2 accum += v, 3 store accum + v
  uint border;       // 0 reflect, 1 reflect101, 2 replicate, 3 constant, 4 wrap (columns)
  float outside;     // value outside a constant border
} pc;

// (-a-1) mod m for a < 0 without a negative operand of %.
int wrap_index(int a, int m) { return a >= 0 ? a % m : m - 1 - ((-a - 1) % m); }

// polykern::detail::border_index (border.hpp) for columns.
int border_index(int p, int n, uint mode) {
  if (p >= 0 && p < n) return p;
  if (mode == 2u) return p < 0 ? 0 : n - 1;
  if (mode == 3u) return -1;
  if (mode == 4u) return wrap_index(p, n);
  if (mode == 0u) {
    int q = wrap_index(p, 2 * n);
    return q < n ? q : 2 * n - 1 - q;
  }
  if (n == 1) return 0;
  int q = wrap_index(p, 2 * n - 2);
  return q < n ? q : 2 * n - 2 - q;
}

float load_src(int row, int e) {
  if (pc.in_u8 != 0u) {
    uint byte = pc.in_offset + uint(row) * pc.in_stride + uint(e);
    return float((src[byte >> 2] >> (8u * (byte & 3u))) & 255u);
  }
  return uintBitsToFloat(src[pc.in_offset + uint(row) * pc.in_stride + uint(e)]);
}

// Input element e of `row` (window row index, -1 outside a constant border), with the
// column border applied when e lies outside the row.
float fetch(int row, int e) {
  if (row < 0) return pc.outside;
  const int C = int(pc.channels);
  if (e >= 0 && e < int(pc.width) * C) return load_src(row, e);
  const int x = e >= 0 ? e / C : -((-e + C - 1) / C);  // divisions only at the borders
  const int mx = border_index(x, int(pc.width), pc.border);
  return mx < 0 ? pc.outside : load_src(row, mx * C + (e - x * C));
}

uint saturate_u8(float v) {
  v = v > 0.0 ? min(v, 255.0) : 0.0;  // NaN -> 0
  return uint(roundEven(v));
}

void main() {
  const uint WG = gl_WorkGroupSize.x;
  const uint TE = WG * PER;
  const uint C = pc.channels;
  const uint E = pc.width * C;
  const uint y = gl_WorkGroupID.y;
  const uint e0 = gl_WorkGroupID.x * TE;
  const uint lid = gl_LocalInvocationID.x;
  const uint seg = (SH - TE) / C + 1;  // taps per staged piece
  float acc[PER];
  [[unroll]] for (uint q = 0; q < PER; ++q) acc[q] = 0.0;

  for (uint j = 0; j < pc.kh; ++j) {
    const int row = pc.table == 0xffffffffu ? int(y + j) : int(params[pc.table + y + j]);
    for (uint i0 = 0; i0 < pc.kw; i0 += seg) {
      const uint ns = min(seg, pc.kw - i0);
      const uint span = TE + (ns - 1u) * C;
      barrier();
      for (uint t = lid; t < span; t += WG) tile[t] = fetch(row, int(e0 + t) + (int(i0) - int(pc.ax)) * int(C));
      barrier();
      const uint base = lid * PER;
      for (uint i = 0; i < ns; ++i) {
        const float k = uintBitsToFloat(params[pc.k_offset + j * pc.kw + i0 + i]);
        [[unroll]] for (uint q = 0; q < PER; ++q) acc[q] += k * tile[base + q + i * C];
      }
    }
  }

  const uint first = e0 + lid * PER;
  if (first >= E) return;
  const uint arow = y * E;
  [[unroll]] for (uint q = 0; q < PER; ++q) {
    const uint e = first + q;
    if (e >= E) continue;
    if (pc.mode == 1u) accum[arow + e] = acc[q];
    else if (pc.mode == 2u) accum[arow + e] += acc[q];
    else if (pc.mode == 3u) acc[q] += accum[arow + e];
  }
  if (pc.mode == 1u || pc.mode == 2u) return;
  const uint orow = pc.out_offset + y * pc.out_stride;
  if (pc.out_u8 != 0u) {
    uint word = 0u;
    [[unroll]] for (uint q = 0; q < PER; ++q)
      if (first + q < E) word |= saturate_u8(acc[q]) << (8u * q);
    dst[orow + first / 4u] = word;
  } else {
    [[unroll]] for (uint q = 0; q < PER; ++q)
      if (first + q < E) dst[orow + first + q] = floatBitsToUint(acc[q]);
  }
}
