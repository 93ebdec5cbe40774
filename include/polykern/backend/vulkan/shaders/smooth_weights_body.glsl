// Gaussian weights of a chunk of graph rows, once per graph (included by
// smooth_weights_f32.comp / smooth_weights_f64.comp, which define T and EXP): dist2 is
// replaced by exp(a * dist2) normalised per row; a row with no neighbour other than
// itself (or whose weights sum to 0) is marked to keep its own value.
//
// A row too long for one binding is cut into pieces in consecutive chunks: the chunk's
// first row may resume a row (RESUME) and its last row go on in the next chunk (MORE).
// Such a split row's running sum and "has another neighbour" flag are carried in its
// slot of Carry (the chunk binds the window of its slots: the first row's is slot 0, the
// last row's slot 0 or 1), chunk after chunk, so the sum is the same fold, in the same
// order, as for an uncut row. A piece that is not the row's last is normalised by a
// second dispatch (FINISH) once the last piece has left the row's total in the slot.
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Rows { uint rows[]; };     // row offsets in the chunk (rows + 1)
layout(std430, binding = 1) readonly buffer Index { uint index[]; };   // caller indices
layout(std430, binding = 2) buffer Weights { T w[]; };                 // dist2 in, weights out
layout(std430, binding = 3) buffer Keep { uint keep[]; };
layout(std430, binding = 4) buffer Carry { T carry[]; };               // per split row: sum, other (0 or 1)

layout(push_constant) uniform Push {
  uint rows;
  uint row0;   // the chunk's first row (a row's own index is row0 + its row)
  uint flags;  // RESUME | MORE | FINISH
  uint slot1;  // the element of Carry where slot 1 starts (slots are an alignment apart)
  T a;         // -1 / (2 sigma^2)
} pc;

const uint RESUME = 1u;  // row 0 continues a row of the previous chunk
const uint MORE = 2u;    // the last row continues in the next chunk
const uint FINISH = 4u;  // second dispatch: normalise the last row's piece with the row's total

// Marks the row and normalises its entries [b, e) by the row's total `sum`.
void finish(uint id, uint b, uint e, T sum, bool other) {
  bool k = !other || !(sum > T(0));
  keep[id] = k ? 1u : 0u;
  if (k) return;
  T inv = T(1) / sum;
  for (uint j = b; j < e; ++j) w[j] *= inv;
}

void main() {
  uint id = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x + gl_GlobalInvocationID.x;
  if (id >= pc.rows) return;
  uint b = rows[id], e = rows[id + 1], self = pc.row0 + id;
  bool resumed = id == 0 && (pc.flags & RESUME) != 0u;
  bool goes_on = id == pc.rows - 1 && (pc.flags & MORE) != 0u;
  uint slot = goes_on && !resumed && (pc.flags & RESUME) != 0u ? pc.slot1 : 0u;
  if ((pc.flags & FINISH) != 0u) {
    if (goes_on) finish(id, b, e, carry[slot], carry[slot + 1] != T(0));
    return;
  }
  T sum = resumed ? carry[0] : T(0);
  bool other = resumed && carry[1] != T(0);
  for (uint j = b; j < e; ++j) {
    T x = EXP(w[j] * pc.a);
    w[j] = x;
    sum += x;
    other = other || index[j] != self;
  }
  if (resumed || goes_on) {
    carry[slot] = sum;
    carry[slot + 1] = other ? T(1) : T(0);
  }
  if (goes_on) return;  // the FINISH dispatch normalises it once the row's total is known
  finish(id, b, e, sum, other);
}
