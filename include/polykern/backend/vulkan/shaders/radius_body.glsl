// Neighbour queries against the KD-tree of detail/kdtree/ (included by
// radius_f32.comp and radius_f64.comp, which define T). One invocation per query: a
// depth-first traversal from the root (left child first, so leaves come in increasing
// order, as on the CPU), pruning boxes farther than the radius (or than the current k-th
// neighbour). Squared distances use the CPU's fold, s = s + d*d with every operation
// rounded on its own (`precise`: Vulkan requires correctly rounded multiplies and adds,
// and forbids contracting them), so they are bitwise the CPU's on every device; ties are
// broken by the caller's index.
//
// mode 0: count    rows[q] = number of points within the radius
// mode 1: position fill row q (rows[q] .. rows[q+1]) with every hit, in tree order
// mode 2: distance fill row q with its rows[q+1]-rows[q] nearest hits, by (dist2, index)
// mode 3: knn      the same with no radius (the row length is min(k, n))
//
// A tree too large for one binding is cut into parts (subtrees, in increasing leaf order),
// each queried in turn into the same rows (pc.part): a part that is not the last leaves
// the rest of its rows padded with the key (+inf, NONE), larger than every real key; a
// resumed part adds to the count (mode 0), appends after the filled prefix (mode 1: tree
// order is part order), or goes on with the full heap (modes 2, 3); the last part sorts.
//
// A row longer than one binding holds is filled in pieces, one chunk after another: a
// chunk's last row may be the first piece (the row's capacity is the room left), and a
// chunk's query 0 may resume a row (pc.after): it takes only the hits after the last of
// the piece before, in tree order (mode 1: global slot > after_slot) or in key order
// (modes 2, 3: key > (after_dist, after_index)), so the pieces concatenated are the row.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint DIM = 3;

layout(std430, binding = 0) readonly buffer Coords { T coords[]; };     // DIM arrays of `slots`
layout(std430, binding = 1) readonly buffer Boxes { T boxes[]; };       // per node: lo[DIM], hi[DIM]
layout(std430, binding = 2) readonly buffer TreeU { uint tree_u[]; };   // perm[slots], then links[2 * nodes]
layout(std430, binding = 3) readonly buffer Queries { T queries[]; };   // query q of the chunk at query_base + q * DIM
layout(std430, binding = 4) readonly buffer Order { uint order[]; };    // invocation -> query (in the chunk)
layout(std430, binding = 5) buffer Rows { uint rows[]; };               // counts, or row offsets (rows + 1)
layout(std430, binding = 6) buffer OutIndex { uint out_index[]; };
layout(std430, binding = 7) buffer OutDist { T out_dist[]; };

layout(push_constant) uniform Push {
  uint invocations;
  uint slots;
  uint leaf_stride;
  uint nodes;
  uint mode;
  uint query_base;      // element of `queries` where the chunk's query 0 starts
  uint identity_order;  // 1: invocation i is query i (`order` is not read)
  uint part;            // RESUME | LAST; an uncut tree is LAST only
  uint slot0;           // the part's first slot in the whole tree
  uint after;           // 1: query 0 resumes a row cut into pieces
  uint after_slot;      // mode 1: the global slot of the piece before's last hit
  uint after_index;     // modes 2, 3: the piece before's last key (with after_dist)
  T r2;
  T after_dist;
} pc;

const uint LEAF = 0x80000000u;
const uint NONE = 0xffffffffu;  // the index of padding entries (no point has it)
const uint RESUME = 1u;         // the rows hold the entries of earlier parts
const uint LAST = 2u;           // the tree's last part: finish the rows

// a * b + c, rounded twice (never fused).
T mul_add(T a, T b, T c) {
  precise T p = a * b;
  precise T r = p + c;
  return r;
}

T box_dist2(uint node, T q[DIM]) {
  precise T s = T(0);
  for (uint d = 0; d < DIM; ++d) {
    T lo = boxes[node * 2 * DIM + d], hi = boxes[node * 2 * DIM + DIM + d];
    precise T g1 = lo - q[d];
    precise T g2 = q[d] - hi;
    T g = max(max(g1, g2), T(0));
    s = mul_add(g, g, s);
  }
  return s;
}

// Row entries as a max-heap of (dist2, index) keys.
uint row_begin;
bool key_less(T da, uint ia, T db, uint ib) { return da < db || (da == db && ia < ib); }
bool entry_less(uint a, uint b) {
  return key_less(out_dist[row_begin + a], out_index[row_begin + a], out_dist[row_begin + b], out_index[row_begin + b]);
}
void swap_entries(uint a, uint b) {
  T d = out_dist[row_begin + a];
  uint i = out_index[row_begin + a];
  out_dist[row_begin + a] = out_dist[row_begin + b];
  out_index[row_begin + a] = out_index[row_begin + b];
  out_dist[row_begin + b] = d;
  out_index[row_begin + b] = i;
}
void sift_down(uint at, uint size) {
  for (;;) {
    uint child = 2 * at + 1;
    if (child >= size) return;
    if (child + 1 < size && entry_less(child, child + 1)) ++child;
    if (!entry_less(at, child)) return;
    swap_entries(at, child);
    at = child;
  }
}
void sift_up(uint at) {
  while (at > 0) {
    uint parent = (at - 1) / 2;
    if (!entry_less(parent, at)) return;
    swap_entries(parent, at);
    at = parent;
  }
}

// The filled prefix of row q in mode 1 (the entries before the first padding entry).
uint filled(uint capacity) {
  uint lo = 0, hi = capacity;
  while (lo < hi) {
    uint mid = (lo + hi) / 2;
    if (out_index[row_begin + mid] == NONE) hi = mid; else lo = mid + 1;
  }
  return lo;
}

void main() {
  uint id = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x + gl_GlobalInvocationID.x;
  if (id >= pc.invocations) return;
  uint qi = pc.identity_order != 0u ? id : order[id];
  T q[DIM];
  for (uint d = 0; d < DIM; ++d) q[d] = queries[pc.query_base + qi * DIM + d];
  uint mode = pc.mode;
  uint count = 0, size = 0, capacity = 0;
  if (mode != 0) {
    row_begin = rows[qi];
    capacity = rows[qi + 1] - row_begin;
    if (capacity == 0) return;
    if ((pc.part & RESUME) != 0u) {
      size = mode == 1 ? filled(capacity) : capacity;
      if (mode == 1 && size == capacity) return;
    }
  }
  bool knn = mode == 3;
  bool resumed_piece = pc.after != 0u && qi == 0u;
  T bound = pc.r2;  // hits must be <= bound; for knn, the k-th key once the heap is full
  if (knn && size == capacity) bound = out_dist[row_begin];

  uint stack[64];
  T stack_d[64];
  uint top = 0;
  if (pc.nodes > 0) {
    stack[0] = 0;
    stack_d[0] = box_dist2(0, q);
    top = 1;
  }
  uint links = pc.slots;
  while (top > 0) {
    --top;
    uint node = stack[top];
    T bd = stack_d[top];
    if (knn ? (size == capacity && bd > bound) : bd > bound) continue;
    uint flag = tree_u[links + 2 * node + 1];
    if ((flag & LEAF) != 0) {
      uint leaf = tree_u[links + 2 * node];
      uint n = flag & ~LEAF;
      uint base = leaf * pc.leaf_stride;
      for (uint i = 0; i < n; ++i) {
        uint slot = base + i;
        precise T s = T(0);
        for (uint d = 0; d < DIM; ++d) {
          precise T x = coords[d * pc.slots + slot] - q[d];
          s = mul_add(x, x, s);
        }
        if (!knn && !(s <= bound)) continue;
        if (knn && size == capacity && s > bound) continue;
        uint orig = tree_u[slot];
        if (resumed_piece && (mode == 1 ? pc.slot0 + slot <= pc.after_slot
                                        : !key_less(pc.after_dist, pc.after_index, s, orig))) continue;
        if (mode == 0) {
          ++count;
        } else if (mode == 1) {
          out_dist[row_begin + size] = s;
          out_index[row_begin + size] = orig;
          ++size;
          if (size == capacity) return;
        } else if (size < capacity) {
          out_dist[row_begin + size] = s;
          out_index[row_begin + size] = orig;
          sift_up(size);
          ++size;
          if (knn && size == capacity) bound = out_dist[row_begin];
        } else if (key_less(s, orig, out_dist[row_begin], out_index[row_begin])) {
          out_dist[row_begin] = s;
          out_index[row_begin] = orig;
          sift_down(0, size);
          if (knn) bound = out_dist[row_begin];
        }
      }
    } else {
      uint a = node + 1, b = tree_u[links + 2 * node];
      T da = box_dist2(a, q), db = box_dist2(b, q);
      // Radius modes: left child on top (increasing leaf order). knn: the nearer on top.
      bool a_first = knn ? da <= db : true;
      // Select, then push unconditionally: two pushes in the branches of an if/else
      // are miscompiled after spirv-opt -O on llvmpipe (Mesa 22.3).
      stack[top] = a_first ? b : a;
      stack_d[top] = a_first ? db : da;
      stack[top + 1] = a_first ? a : b;
      stack_d[top + 1] = a_first ? da : db;
      top += 2;
    }
  }
  if (mode == 0) {
    rows[qi] = (pc.part & RESUME) != 0u ? rows[qi] + count : count;
  } else if ((pc.part & LAST) == 0u) {
    // Pad the row for the next part (a padding key is the heap's largest: sift it up).
    for (uint i = size; i < capacity; ++i) {
      out_dist[row_begin + i] = T_INF;
      out_index[row_begin + i] = NONE;
      if (mode >= 2) sift_up(i);
    }
  } else if (mode >= 2) {
    // Heapsort: ascending (dist2, index).
    for (uint end = size; end > 1; --end) {
      swap_entries(0, end - 1);
      sift_down(0, end - 1);
    }
  }
}
