// Snapshot (Schemas/workflow.fbs): encode from arena slices, verify, zero-copy reads.
#include "Internal.h"

FBS_BEGIN_GENERATED_CODE
#include "generated/workflow_generated.h"
FBS_END_GENERATED_CODE

#include <algorithm>
#include <thread>

using namespace fbs_internal;
namespace fb = flow::fb;

namespace {

const char kIdentifier[] = "FLWS";

// Upper bounds of the fixed bytes one table adds (table, vtable, vector slot, alignment).
constexpr uint64_t kNodeOverhead = 160;
constexpr uint64_t kKeyValueOverhead = 80;
constexpr uint64_t kSnapshotOverhead = 1024;

struct ResolvedKV {
    Bytes key, value;
};

bool less_bytes(const Bytes &a, const Bytes &b) noexcept {
    const size_t n = std::min(a.length, b.length);
    const int c = n == 0 ? 0 : std::memcmp(a.data, b.data, n);
    return c != 0 ? c < 0 : a.length < b.length;
}

bool equal_bytes(const Bytes &a, const Bytes &b) noexcept {
    return a.length == b.length && (a.length == 0 || std::memcmp(a.data, b.data, a.length) == 0);
}

/// Checks a DAG shape's edges (Snapshot.edges): both ends inside the `node_count` nodes, grouped
/// by node ascending, no node depending on itself, no edge twice. `edge(i)` gives edge i.
template <typename EdgeAt>
fbs_code check_edges(size_t edge_count, size_t node_count, EdgeAt edge, uint64_t offset, fbs_error *err) {
    std::vector<uint32_t> seen_by(edge_count == 0 ? 0 : node_count, 0);  // 1 + the node whose group saw it
    for (size_t i = 0; i < edge_count; ++i) {
        const fbs_edge e = edge(i);
        const char *problem = nullptr;
        if (e.node >= node_count || e.dependency >= node_count) {
            problem = "names a node past the last";
        } else if (e.node == e.dependency) {
            problem = "makes a node depend on itself";
        } else if (i > 0 && edge(i - 1).node > e.node) {
            problem = "is out of order (edges are grouped by node, ascending)";
        } else if (seen_by[e.dependency] == e.node + 1) {
            problem = "repeats an earlier edge";
        }
        if (problem != nullptr) {
            set_error(err, FBS_ERR_INCONSISTENT, offset, i, "snapshot: edge %zu (%u -> %u of %zu nodes) %s", i,
                      e.dependency, e.node, node_count, problem);
            return FBS_ERR_INCONSISTENT;
        }
        seen_by[e.dependency] = e.node + 1;
    }
    return FBS_OK;
}

flatbuffers::Offset<flatbuffers::String> make_string(flatbuffers::FlatBufferBuilder &b, const Bytes &s) {
    if (!s.present()) return 0;
    return b.CreateString(reinterpret_cast<const char *>(s.data), s.length);
}

flatbuffers::Offset<flatbuffers::Vector<uint8_t>> make_bytes(flatbuffers::FlatBufferBuilder &b, const Bytes &v) {
    if (!v.present()) return 0;
    return b.CreateVector(v.data, v.length);
}

/// Lends the caller's scratch memory to a builder for its first (and, sized right, only)
/// allocation; anything else comes from the heap.
class ScratchAllocator final : public flatbuffers::Allocator {
  public:
    ScratchAllocator(void *scratch, size_t length) noexcept
        : scratch_(static_cast<uint8_t *>(scratch)), length_(scratch ? length : 0) {}

    uint8_t *allocate(size_t size) override {
        if (!lent_ && size <= length_) {
            lent_ = true;
            return scratch_;
        }
        return new uint8_t[size];
    }

    void deallocate(uint8_t *p, size_t) override {
        if (p == scratch_ && lent_) {
            lent_ = false;
        } else {
            delete[] p;
        }
    }

    /// True when `[p, p + size)` lies in the scratch memory.
    bool holds(const uint8_t *p, size_t size) const noexcept {
        return scratch_ != nullptr && p >= scratch_ && size <= length_ &&
               static_cast<size_t>(p - scratch_) <= length_ - size;
    }

  private:
    uint8_t *scratch_;
    size_t length_;
    bool lent_ = false;
};

/// A builder that can hand out raw space for a region written without it.
class RegionBuilder : public flatbuffers::FlatBufferBuilder {
  public:
    RegionBuilder(size_t initial, flatbuffers::Allocator *allocator)
        : flatbuffers::FlatBufferBuilder(initial, allocator) {}

    /// `len` bytes (a multiple of 8) at an 8-aligned place of the finished buffer; the pointer
    /// stays valid until the builder grows past its initial size.
    uint8_t *reserve(size_t len) {
        Align(8);
        return buf_.make_space(len);
    }
};

/// Runs `body(0..<count)`, each index on its own thread except 0, which runs on the caller's.
/// An index whose thread cannot be started runs on the caller's thread too.
template <typename Body>
void run_parallel(size_t count, Body body) {
    std::vector<std::thread> threads;
    std::vector<size_t> inline_indices;
    for (size_t i = 1; i < count; ++i) {
        try {
            threads.emplace_back([&body, i] { body(i); });
        } catch (...) {
            inline_indices.push_back(i);
        }
    }
    body(0);
    for (size_t i : inline_indices) body(i);
    for (auto &thread : threads) thread.join();
}

/// The nodes vector and the Node tables, written straight into the builder's buffer rather than
/// through FlatBufferBuilder (one call per field was most of a large snapshot's encoding time),
/// in parallel ranges when the caller allows threads. The layout is a valid FlatBuffer whatever
/// the range split, and the bytes do not depend on it:
///
///   [16 vtables, one per combination of the optional fields][vector length][N uoffsets][pad]
///   then per node: [table][name][error][output], each table at 4 mod 8 so that its 64-bit
///   fields are 8-aligned; strings and byte vectors 4-aligned, NUL-terminated strings; every
///   padding byte zero. Every reference points forward, vtables backward (soffset > 0).
class NodeRegion {
  public:
    NodeRegion(const fbs_snapshot_in *in, const Arena &arena) noexcept : in_(in), arena_(arena) {
        const size_t n = in->node_count;
        size_t chunks = in->threads > 1 ? std::min<size_t>(in->threads, 64) : 1;
        chunks = std::max<size_t>(1, std::min(chunks, n / kMinNodesPerChunk));
        ranges_.resize(chunks);
        for (size_t c = 0; c < chunks; ++c) ranges_[c] = Range{n * c / chunks, n * (c + 1) / chunks, 0, FBS_OK, {}};
    }

    /// Validates every node (in index order: the first bad node is the one reported) and sizes
    /// the region. Returns FBS_ERR_TOO_LARGE early when the region alone passes 2 GiB.
    fbs_code plan(fbs_error *err) {
        run_parallel(ranges_.size(), [this](size_t c) { plan_range(ranges_[c]); });
        uint64_t total = 0;
        for (const Range &r : ranges_) {
            if (r.rc != FBS_OK) {
                if (err != nullptr) *err = r.err;
                return r.rc;
            }
            total += r.bytes;
        }
        const size_t n = in_->node_count;
        vtables_ = n == 0 ? 0 : kVTableBlock;
        nodes_start_ = vtables_ + 4 + 4 * static_cast<uint64_t>(n);
        if (nodes_start_ % 8 == 0) nodes_start_ += 4;
        // Nodes start and end at 4 mod 8; the region ends 8-aligned.
        bytes_ = (nodes_start_ + total + 7) & ~uint64_t{7};
        if (bytes_ >= FBS_MAX_BUFFER_SIZE) {
            set_error(err, FBS_ERR_TOO_LARGE, FBS_NO_OFFSET, FBS_NO_INDEX,
                      "the snapshot would exceed the 2 GiB FlatBuffers limit");
            return FBS_ERR_TOO_LARGE;
        }
        return FBS_OK;
    }

    /// Size of the region in bytes (a multiple of 8); valid after plan().
    uint64_t bytes() const noexcept { return bytes_; }

    /// Writes the region into `b` and returns the nodes vector.
    flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Node>>> write(RegionBuilder &b) {
        uint8_t *region = b.reserve(static_cast<size_t>(bytes_));
        const auto end = b.GetSize();
        std::memset(region, 0, static_cast<size_t>(nodes_start_));
        if (vtables_ != 0) {
            for (unsigned mask = 0; mask < 16; ++mask) write_vtable(region + mask * kVTableSize, mask);
        }
        store_le32(region + vtables_, static_cast<uint32_t>(in_->node_count));
        uint64_t position = nodes_start_;
        for (Range &r : ranges_) {
            r.start = position;
            position += r.bytes;
        }
        std::memset(region + position, 0, static_cast<size_t>(bytes_ - position));
        run_parallel(ranges_.size(), [this, region](size_t c) { write_range(region, ranges_[c]); });
        return flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Node>>>(
            static_cast<flatbuffers::uoffset_t>(end - vtables_));
    }

  private:
    // Node's fields, in vtable order (Schemas/workflow.fbs). A field added to Node must be added
    // to the layout below: these asserts fail when the schema's field list changes shape.
    static_assert(fb::Node::VT_NAME == 4 && fb::Node::VT_STATUS == 6 && fb::Node::VT_ATTEMPTS == 8 &&
                      fb::Node::VT_STARTED_AT_US == 10 && fb::Node::VT_ENDED_AT_US == 12 &&
                      fb::Node::VT_ERROR == 14 && fb::Node::VT_OUTPUT == 16,
                  "Node's fields changed: update NodeRegion's layout");
    static constexpr uint64_t kVTableSize = 18;  // vtable size, table size, 7 field offsets
    static constexpr uint64_t kVTableBlock = 16 * kVTableSize;  // 288, a multiple of 8
    static constexpr size_t kMinNodesPerChunk = 4096;
    enum : unsigned { kStarted = 1, kEnded = 2, kError = 4, kOutput = 8 };

    struct Range {
        size_t first, end;
        uint64_t bytes;  // plan: size of the range's tables and strings; write: where they start
        fbs_code rc;
        fbs_error err;
        uint64_t start = 0;
    };

    /// Where a table with the optional fields of `mask` keeps each field, and its inline size.
    struct Layout {
        uint16_t started, ended, name, error, output, attempts, status, size;
    };

    static constexpr Layout layout(unsigned mask) noexcept {
        Layout l{0, 0, 0, 0, 0, 0, 0, 0};
        uint16_t o = 4;
        l.status = o; o += 4;
        l.attempts = o; o += 4;
        l.name = o; o += 4;
        if (mask & kError) { l.error = o; o += 4; }
        if (mask & kOutput) { l.output = o; o += 4; }
        if (mask & (kStarted | kEnded)) {
            if (o % 8 == 0) o += 4;  // the table is at 4 mod 8
            if (mask & kStarted) { l.started = o; o += 8; }
            if (mask & kEnded) { l.ended = o; o += 8; }
        }
        l.size = o;
        return l;
    }

    static unsigned mask_of(const fbs_node_in &n) noexcept {
        return (n.has_started_at ? kStarted : 0) | (n.has_ended_at ? kEnded : 0) |
               (n.error.length != FBS_ABSENT ? kError : 0) | (n.output.length != FBS_ABSENT ? kOutput : 0);
    }

    static uint64_t string_size(uint64_t length) noexcept { return (4 + length + 1 + 3) & ~uint64_t{3}; }
    static uint64_t blob_size(uint64_t length) noexcept { return (4 + length + 3) & ~uint64_t{3}; }

    /// Bytes of one node: its table and strings, padded so that the next table is at 4 mod 8.
    static uint64_t node_size(const fbs_node_in &n, unsigned mask) noexcept {
        uint64_t size = layout(mask).size + string_size(n.name.length);
        if (mask & kError) size += string_size(n.error.length);
        if (mask & kOutput) size += blob_size(n.output.length);
        return (size + 7) & ~uint64_t{7};
    }

    void plan_range(Range &r) noexcept {
        clear_error(&r.err);
        uint64_t bytes = 0;
        for (size_t i = r.first; i < r.end; ++i) {
            const fbs_node_in &n = in_->nodes[i];
            Bytes name, error, output;
            if ((r.rc = resolve_input(arena_, n.name, kRequired | kUTF8, "node name", i, &name, &r.err)) != FBS_OK ||
                (r.rc = resolve_input(arena_, n.error, kUTF8, "node error", i, &error, &r.err)) != FBS_OK ||
                (r.rc = resolve_input(arena_, n.output, kOptional, "node output", i, &output, &r.err)) != FBS_OK) {
                return;
            }
            if (static_cast<unsigned>(n.status) > static_cast<unsigned>(fb::NodeStatus_MAX)) {
                set_error(&r.err, FBS_ERR_BAD_ENUM, FBS_NO_OFFSET, i, "node %zu: status %u is out of range", i,
                          static_cast<unsigned>(n.status));
                r.rc = FBS_ERR_BAD_ENUM;
                return;
            }
            bytes += node_size(n, mask_of(n));
            if (bytes >= FBS_MAX_BUFFER_SIZE) break;  // plan() reports it
        }
        r.bytes = bytes;
        r.rc = FBS_OK;
    }

    static void write_vtable(uint8_t *v, unsigned mask) noexcept {
        const Layout l = layout(mask);
        const uint16_t fields[9] = {static_cast<uint16_t>(kVTableSize), l.size, l.name, l.status, l.attempts,
                                    l.started, l.ended, l.error, l.output};
        for (size_t i = 0; i < 9; ++i) {
            v[2 * i] = static_cast<uint8_t>(fields[i]);
            v[2 * i + 1] = static_cast<uint8_t>(fields[i] >> 8);
        }
    }

    /// Writes a string or blob at `at` with its reference from `field`; returns the next free place.
    static uint64_t put(uint8_t *region, uint64_t field, uint64_t at, const uint8_t *data, uint64_t length,
                        bool terminated) noexcept {
        store_le32(region + field, static_cast<uint32_t>(at - field));
        store_le32(region + at, static_cast<uint32_t>(length));
        if (length != 0) std::memcpy(region + at + 4, data, static_cast<size_t>(length));
        const uint64_t end = at + (terminated ? string_size(length) : blob_size(length));
        std::memset(region + at + 4 + length, 0, static_cast<size_t>(end - (at + 4 + length)));
        return end;
    }

    void write_range(uint8_t *region, const Range &r) const noexcept {
        const uint8_t *base = static_cast<const uint8_t *>(in_->arena);
        uint64_t table = r.start;
        for (size_t i = r.first; i < r.end; ++i) {
            const fbs_node_in &n = in_->nodes[i];
            const unsigned mask = mask_of(n);
            const Layout l = layout(mask);
            const uint64_t entry = vtables_ + 4 + 4 * static_cast<uint64_t>(i);
            store_le32(region + entry, static_cast<uint32_t>(table - entry));
            uint8_t *t = region + table;
            std::memset(t, 0, l.size);
            store_le32(t, static_cast<uint32_t>(table - mask * kVTableSize));
            if (mask & kStarted) store_le64(t + l.started, static_cast<uint64_t>(n.started_at_us));
            if (mask & kEnded) store_le64(t + l.ended, static_cast<uint64_t>(n.ended_at_us));
            store_le32(t + l.attempts, n.attempts);
            t[l.status] = static_cast<uint8_t>(n.status);
            uint64_t at = table + l.size;
            at = put(region, table + l.name, at, base + n.name.offset, n.name.length, true);
            if (mask & kError) at = put(region, table + l.error, at, base + n.error.offset, n.error.length, true);
            if (mask & kOutput) {
                // A present empty output may come with a NULL arena: its bytes are never read.
                at = put(region, table + l.output, at, n.output.length ? base + n.output.offset : nullptr,
                         n.output.length, false);
            }
            const uint64_t next = table + node_size(n, mask);
            std::memset(region + at, 0, static_cast<size_t>(next - at));
            table = next;
        }
    }

    const fbs_snapshot_in *in_;
    const Arena &arena_;
    std::vector<Range> ranges_;
    uint64_t vtables_ = 0, nodes_start_ = 0, bytes_ = 0;
};

fbs_code encode(const fbs_snapshot_in *in, fbs_buffer *out, fbs_error *err) {
    const Arena arena(in->arena, in->arena_len);
    if (in->arena == nullptr && in->arena_len != 0) {
        set_error(err, FBS_ERR_INVALID_ARGUMENT, FBS_NO_OFFSET, FBS_NO_INDEX, "arena is NULL but arena_len is not 0");
        return FBS_ERR_INVALID_ARGUMENT;
    }
    if ((in->nodes == nullptr && in->node_count != 0) || (in->data == nullptr && in->data_count != 0)) {
        set_error(err, FBS_ERR_INVALID_ARGUMENT, FBS_NO_OFFSET, FBS_NO_INDEX, "NULL nodes or data with a count");
        return FBS_ERR_INVALID_ARGUMENT;
    }
    if (static_cast<unsigned>(in->status) > static_cast<unsigned>(fb::WorkflowStatus_MAX)) {
        set_error(err, FBS_ERR_BAD_ENUM, FBS_NO_OFFSET, FBS_NO_INDEX, "workflow status %u is out of range",
                  static_cast<unsigned>(in->status));
        return FBS_ERR_BAD_ENUM;
    }
    // Counts so large that even the fixed overhead overflows the 2 GiB limit.
    if (in->node_count > FBS_MAX_BUFFER_SIZE / kNodeOverhead || in->data_count > FBS_MAX_BUFFER_SIZE / kKeyValueOverhead) {
        set_error(err, FBS_ERR_TOO_LARGE, FBS_NO_OFFSET, FBS_NO_INDEX, "too many nodes or data entries");
        return FBS_ERR_TOO_LARGE;
    }

    Bytes id, tenant, fingerprint, input, definition, reason;
    fbs_code rc;
    if (in->budget_count != 0 && (in->budget_count != in->node_count || in->budgets == nullptr)) {
        set_error(err, FBS_ERR_INVALID_ARGUMENT, FBS_NO_OFFSET, FBS_NO_INDEX,
                  "budget_count %zu: must be 0 or node_count (%zu), with budgets not NULL", in->budget_count,
                  in->node_count);
        return FBS_ERR_INVALID_ARGUMENT;
    }
    if (in->has_edges != 0 && in->edges == nullptr && in->edge_count != 0) {
        set_error(err, FBS_ERR_INVALID_ARGUMENT, FBS_NO_OFFSET, FBS_NO_INDEX, "NULL edges with a count");
        return FBS_ERR_INVALID_ARGUMENT;
    }
    const size_t edge_count = in->has_edges != 0 ? in->edge_count : 0;
    if (edge_count > FBS_MAX_BUFFER_SIZE / sizeof(fb::Edge)) {
        set_error(err, FBS_ERR_TOO_LARGE, FBS_NO_OFFSET, FBS_NO_INDEX, "too many edges");
        return FBS_ERR_TOO_LARGE;
    }
    if ((rc = check_edges(edge_count, in->node_count, [in](size_t i) { return in->edges[i]; }, FBS_NO_OFFSET, err)) !=
        FBS_OK) {
        return rc;
    }
    if ((rc = resolve_input(arena, in->id, kRequired | kUTF8, "snapshot id", FBS_NO_INDEX, &id, err)) != FBS_OK ||
        (rc = resolve_input(arena, in->tenant, kRequired | kUTF8, "snapshot tenant", FBS_NO_INDEX, &tenant, err)) != FBS_OK ||
        (rc = resolve_input(arena, in->fingerprint, kRequired | kUTF8, "snapshot fingerprint", FBS_NO_INDEX, &fingerprint,
                            err)) != FBS_OK ||
        (rc = resolve_input(arena, in->input, kOptional, "snapshot input", FBS_NO_INDEX, &input, err)) != FBS_OK ||
        (rc = resolve_input(arena, in->definition, kOptional, "snapshot definition", FBS_NO_INDEX, &definition, err)) !=
            FBS_OK ||
        (rc = resolve_input(arena, in->reason, kOptional | kUTF8, "snapshot reason", FBS_NO_INDEX, &reason, err)) !=
            FBS_OK) {
        return rc;
    }
    uint64_t bound = kSnapshotOverhead + encoded_bound(id) + encoded_bound(tenant) + encoded_bound(fingerprint) +
                     encoded_bound(input) + encoded_bound(definition) + encoded_bound(reason) +
                     16 + sizeof(fb::NodeBudget) * static_cast<uint64_t>(in->budget_count) +
                     16 + sizeof(fb::Edge) * static_cast<uint64_t>(edge_count);

    NodeRegion region(in, arena);
    if ((rc = region.plan(err)) != FBS_OK) return rc;
    bound += region.bytes();

    std::vector<ResolvedKV> data(in->data_count);
    std::vector<size_t> order(in->data_count);
    for (size_t i = 0; i < in->data_count && bound < FBS_MAX_BUFFER_SIZE; ++i) {
        const fbs_kv_in &kv = in->data[i];
        if ((rc = resolve_input(arena, kv.key, kRequired | kUTF8, "data key", i, &data[i].key, err)) != FBS_OK ||
            (rc = resolve_input(arena, kv.value, kOptional, "data value", i, &data[i].value, err)) != FBS_OK) {
            return rc;
        }
        order[i] = i;
        bound += kKeyValueOverhead + encoded_bound(data[i].key) + encoded_bound(data[i].value);
    }
    if (bound >= FBS_MAX_BUFFER_SIZE) {
        set_error(err, FBS_ERR_TOO_LARGE, FBS_NO_OFFSET, FBS_NO_INDEX,
                  "the snapshot would exceed the 2 GiB FlatBuffers limit");
        return FBS_ERR_TOO_LARGE;
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return less_bytes(data[a].key, data[b].key); });
    for (size_t i = 1; i < order.size(); ++i) {
        if (equal_bytes(data[order[i - 1]].key, data[order[i]].key)) {
            set_error(err, FBS_ERR_DUPLICATE_KEY, FBS_NO_OFFSET, order[i], "data entries %zu and %zu have the same key",
                      order[i - 1], order[i]);
            return FBS_ERR_DUPLICATE_KEY;
        }
    }

    // One allocation up front: `bound` is an upper bound of the finished size; untouched pages
    // of the over-estimate are never faulted in. No reallocation can move the node region.
    ScratchAllocator allocator(in->scratch, in->scratch_len);
    RegionBuilder b(static_cast<size_t>(bound), &allocator);

    // The node region goes first, at the highest addresses: nothing in it refers outside it.
    const auto nodes_vector = region.write(b);

    std::vector<flatbuffers::Offset<fb::KeyValue>> kv_offsets(in->data_count);
    for (size_t i = 0; i < order.size(); ++i) {
        const ResolvedKV &kv = data[order[i]];
        const auto key = make_string(b, kv.key);
        const auto value = make_bytes(b, kv.value);
        fb::KeyValueBuilder kb(b);
        kb.add_key(key);
        if (!value.IsNull()) kb.add_value(value);
        kv_offsets[i] = kb.Finish();
    }
    const auto data_vector = b.CreateVector(kv_offsets);

    const auto id_off = make_string(b, id);
    const auto tenant_off = make_string(b, tenant);
    const auto fingerprint_off = make_string(b, fingerprint);
    const auto input_off = make_bytes(b, input);
    const auto definition_off = make_bytes(b, definition);
    const auto reason_off = make_string(b, reason);
    flatbuffers::Offset<flatbuffers::Vector<const fb::NodeBudget *>> budgets_off = 0;
    if (in->budget_count != 0) {
        // Not CreateUninitializedVectorOfStructs: in 2.0.8 it aligns to sizeof(NodeBudget) (12),
        // which raises the buffer's alignment to 12 and so misaligns the node region's 64-bit
        // fields; CreateVectorOfStructs aligns to alignof (4).
        std::vector<fb::NodeBudget> budgets;
        budgets.reserve(in->budget_count);
        for (size_t i = 0; i < in->budget_count; ++i) {
            const fbs_node_budget &budget = in->budgets[i];
            budgets.emplace_back(budget.counted, budget.crashed, budget.open != 0);
        }
        budgets_off = b.CreateVectorOfStructs(budgets.data(), budgets.size());
    }

    flatbuffers::Offset<flatbuffers::Vector<const fb::Edge *>> edges_off = 0;
    if (in->has_edges != 0) {
        std::vector<fb::Edge> edges;
        edges.reserve(edge_count);
        for (size_t i = 0; i < edge_count; ++i) edges.emplace_back(in->edges[i].node, in->edges[i].dependency);
        edges_off = b.CreateVectorOfStructs(edges.data(), edges.size());
    }

    fb::SnapshotBuilder sb(b);
    if (!edges_off.IsNull()) sb.add_edges(edges_off);
    if (!budgets_off.IsNull()) sb.add_budgets(budgets_off);
    if (!reason_off.IsNull()) sb.add_reason(reason_off);
    sb.add_recoveries(in->recoveries);
    sb.add_last_sequence(in->last_sequence);
    sb.add_updated_at_us(in->updated_at_us);
    sb.add_created_at_us(in->created_at_us);
    sb.add_data(data_vector);
    sb.add_nodes(nodes_vector);
    if (!definition_off.IsNull()) sb.add_definition(definition_off);
    if (!input_off.IsNull()) sb.add_input(input_off);
    sb.add_fingerprint(fingerprint_off);
    sb.add_tenant(tenant_off);
    sb.add_id(id_off);
    sb.add_format_version(FBS_FORMAT_VERSION);
    sb.add_status(static_cast<fb::WorkflowStatus>(in->status));
    // FBSchema.h promises 8-aligned output. Finish pads the buffer to the largest alignment
    // used, which is 4 when every 64-bit field holds its default (and is left out): ask for 8.
    b.TrackMinAlign(8);
    b.Finish(sb.Finish(), kIdentifier);

    // The finished bytes are in the scratch memory or in the heap (the builder outgrew the
    // scratch, or had none): lend the former, copy the latter out (the allocator, and so the
    // builder's own memory, does not outlive this call).
    const uint8_t *bytes = b.GetBufferPointer();
    const size_t size = b.GetSize();
    if (allocator.holds(bytes, size)) {
        *out = fbs_buffer{const_cast<uint8_t *>(bytes), size, nullptr};
    } else {
        auto owned = std::unique_ptr<OwnedVector>(new OwnedVector());
        owned->bytes.assign(bytes, bytes + size);
        *out = fbs_buffer{owned->bytes.data(), size, owned.release()};
    }
    return FBS_OK;
}

/// The Snapshot table as the generated Snapshot::Verify checks it, except the Node tables: the
/// nodes vector itself is checked (so its offsets can be read), each Node by verify_node_range.
struct SnapshotRoot : private flatbuffers::Table {
    using S = fb::Snapshot;

    // Fields are read only after VerifyTableStart has checked the vtable, as in generated code.
    bool Verify(flatbuffers::Verifier &v) const {
        return VerifyTableStart(v) && VerifyField<uint32_t>(v, S::VT_FORMAT_VERSION, 4) &&
               VerifyOffsetRequired(v, S::VT_ID) && v.VerifyString(string(S::VT_ID)) &&
               VerifyOffset(v, S::VT_TENANT) && v.VerifyString(string(S::VT_TENANT)) &&
               VerifyOffset(v, S::VT_FINGERPRINT) && v.VerifyString(string(S::VT_FINGERPRINT)) &&
               VerifyField<uint8_t>(v, S::VT_STATUS, 1) && VerifyField<int64_t>(v, S::VT_CREATED_AT_US, 8) &&
               VerifyField<int64_t>(v, S::VT_UPDATED_AT_US, 8) && VerifyField<uint64_t>(v, S::VT_LAST_SEQUENCE, 8) &&
               VerifyOffset(v, S::VT_INPUT) && v.VerifyVector(bytes(S::VT_INPUT)) &&
               VerifyOffset(v, S::VT_DEFINITION) && v.VerifyVector(bytes(S::VT_DEFINITION)) &&
               VerifyOffset(v, S::VT_NODES) && v.VerifyVector(nodes()) && VerifyOffset(v, S::VT_DATA) &&
               v.VerifyVector(data()) && v.VerifyVectorOfTables(data()) && VerifyOffset(v, S::VT_REASON) &&
               v.VerifyString(string(S::VT_REASON)) && VerifyField<uint32_t>(v, S::VT_RECOVERIES, 4) &&
               VerifyOffset(v, S::VT_BUDGETS) && v.VerifyVector(budgets()) && VerifyOffset(v, S::VT_EDGES) &&
               v.VerifyVector(edges()) && v.EndTable();
    }

  private:
    const flatbuffers::String *string(flatbuffers::voffset_t field) const {
        return GetPointer<const flatbuffers::String *>(field);
    }
    const flatbuffers::Vector<uint8_t> *bytes(flatbuffers::voffset_t field) const {
        return GetPointer<const flatbuffers::Vector<uint8_t> *>(field);
    }
    const flatbuffers::Vector<flatbuffers::Offset<fb::Node>> *nodes() const {
        return GetPointer<const flatbuffers::Vector<flatbuffers::Offset<fb::Node>> *>(S::VT_NODES);
    }
    const flatbuffers::Vector<flatbuffers::Offset<fb::KeyValue>> *data() const {
        return GetPointer<const flatbuffers::Vector<flatbuffers::Offset<fb::KeyValue>> *>(S::VT_DATA);
    }
    const flatbuffers::Vector<const fb::NodeBudget *> *budgets() const {
        return GetPointer<const flatbuffers::Vector<const fb::NodeBudget *> *>(S::VT_BUDGETS);
    }
    const flatbuffers::Vector<const fb::Edge *> *edges() const {
        return GetPointer<const flatbuffers::Vector<const fb::Edge *> *>(S::VT_EDGES);
    }
};
// Snapshot's fields, as SnapshotRoot verifies them: a field added to the schema must be added there.
static_assert(fb::Snapshot::VT_EDGES == 34, "Snapshot's fields changed: update SnapshotRoot");

/// Everything but the Node tables: the buffer, the Snapshot table (with the nodes vector's own
/// bounds) and the data entries, then the checks the Verifier does not make.
fbs_code verify_root(const uint8_t *buf, size_t len, fbs_error *err) {
    fbs_code rc = check_buffer_prelude(buf, len, kIdentifier, "snapshot", err);
    if (rc != FBS_OK) return rc;
    if (!run_verifier<SnapshotRoot>(buf, len, kIdentifier)) {
        set_error(err, FBS_ERR_VERIFY, FBS_NO_OFFSET, FBS_NO_INDEX,
                  "snapshot: FlatBuffers verifier rejected the buffer (%zu bytes)", len);
        return FBS_ERR_VERIFY;
    }
    const fb::Snapshot *s = fb::GetSnapshot(buf);
    const uint64_t root = offset_of(buf, s);
    if (s->format_version() == 0 || s->format_version() > FBS_FORMAT_VERSION) {
        set_error(err, FBS_ERR_UNSUPPORTED_VERSION, root, FBS_NO_INDEX,
                  "snapshot: format_version %u, this build reads 1...%u", s->format_version(), FBS_FORMAT_VERSION);
        return FBS_ERR_UNSUPPORTED_VERSION;
    }
    if (s->tenant() == nullptr || s->fingerprint() == nullptr) {
        set_error(err, FBS_ERR_MISSING_FIELD, root, FBS_NO_INDEX, "snapshot: %s is missing",
                  s->tenant() == nullptr ? "tenant" : "fingerprint");
        return FBS_ERR_MISSING_FIELD;
    }
    if (static_cast<unsigned>(s->status()) > static_cast<unsigned>(fb::WorkflowStatus_MAX)) {
        set_error(err, FBS_ERR_BAD_ENUM, root, FBS_NO_INDEX, "snapshot: workflow status %u is out of range",
                  static_cast<unsigned>(s->status()));
        return FBS_ERR_BAD_ENUM;
    }
    StringChecker strings(buf, len);
    if ((rc = strings.check(s->id(), "snapshot id", FBS_NO_INDEX, err)) != FBS_OK ||
        (rc = strings.check(s->tenant(), "snapshot tenant", FBS_NO_INDEX, err)) != FBS_OK ||
        (rc = strings.check(s->fingerprint(), "snapshot fingerprint", FBS_NO_INDEX, err)) != FBS_OK ||
        (rc = strings.check(s->reason(), "snapshot reason", FBS_NO_INDEX, err)) != FBS_OK) {
        return rc;
    }
    const size_t node_count = s->nodes() ? s->nodes()->size() : 0;
    if (s->budgets() != nullptr && s->budgets()->size() != node_count) {
        set_error(err, FBS_ERR_INCONSISTENT, root, FBS_NO_INDEX, "snapshot: %u budgets for %zu nodes",
                  s->budgets()->size(), node_count);
        return FBS_ERR_INCONSISTENT;
    }
    if (const auto *edges = s->edges()) {
        rc = check_edges(edges->size(), node_count, [edges](size_t i) {
            const fb::Edge *e = edges->Get(static_cast<flatbuffers::uoffset_t>(i));
            return fbs_edge{e->node(), e->dependency()};
        }, offset_of(buf, edges), err);
        if (rc != FBS_OK) return rc;
    }
    if (const auto *data = s->data()) {
        const flatbuffers::uoffset_t count = data->size();
        for (flatbuffers::uoffset_t i = 0; i < count; ++i) {
            const fb::KeyValue *kv = data->Get(i);
            if ((rc = strings.check(kv->key(), "data key", i, err)) != FBS_OK) return rc;
            if (i > 0 && !(*data->Get(i - 1)->key() < *kv->key())) {
                set_error(err, FBS_ERR_UNSORTED_KEYS, offset_of(buf, kv), i,
                          "data entry %u: key is not greater than the previous key", i);
                return FBS_ERR_UNSORTED_KEYS;
            }
        }
    }
    return FBS_OK;
}

/// Node tables [first, first + count) of a buffer that passed verify_root: the Verifier's
/// checks, then statuses in range and names and errors valid UTF-8.
fbs_code verify_node_range(const uint8_t *buf, size_t len, size_t first, size_t count, fbs_error *err) {
    const auto *nodes = fb::GetSnapshot(buf)->nodes();
    const size_t total = nodes ? nodes->size() : 0;
    if (first > total || count > total - first) {
        set_error(err, FBS_ERR_OUT_OF_RANGE, FBS_NO_OFFSET, first, "nodes %zu..<%zu: the snapshot has %zu", first,
                  first + count, total);
        return FBS_ERR_OUT_OF_RANGE;
    }
    const uint64_t tables = 1000000u + static_cast<uint64_t>(len) / 4u;
    flatbuffers::Verifier verifier(buf, len, 64,
                                   static_cast<flatbuffers::uoffset_t>(tables > 0xFFFFFFFFu ? 0xFFFFFFFFu : tables));
    StringChecker strings(buf, len);
    fbs_code rc;
    for (size_t i = first; i < first + count; ++i) {
        const fb::Node *n = nodes->Get(static_cast<flatbuffers::uoffset_t>(i));
        if (!n->Verify(verifier)) {
            set_error(err, FBS_ERR_VERIFY, FBS_NO_OFFSET, i, "snapshot: FlatBuffers verifier rejected node %zu", i);
            return FBS_ERR_VERIFY;
        }
        if (static_cast<unsigned>(n->status()) > static_cast<unsigned>(fb::NodeStatus_MAX)) {
            set_error(err, FBS_ERR_BAD_ENUM, offset_of(buf, n), i, "node %zu: status %u is out of range", i,
                      static_cast<unsigned>(n->status()));
            return FBS_ERR_BAD_ENUM;
        }
        if ((rc = strings.check(n->name(), "node name", i, err)) != FBS_OK ||
            (rc = strings.check(n->error(), "node error", i, err)) != FBS_OK) {
            return rc;
        }
    }
    return FBS_OK;
}

fbs_code verify(const uint8_t *buf, size_t len, fbs_error *err) {
    fbs_code rc = verify_root(buf, len, err);
    if (rc != FBS_OK) return rc;
    const auto *nodes = fb::GetSnapshot(buf)->nodes();
    return verify_node_range(buf, len, 0, nodes ? nodes->size() : 0, err);
}

}  // namespace

extern "C" {

fbs_code fbs_snapshot_encode(const fbs_snapshot_in *in, fbs_buffer *out, fbs_error *err) {
    clear_error(err);
    if (in == nullptr || out == nullptr) {
        set_error(err, FBS_ERR_INVALID_ARGUMENT, FBS_NO_OFFSET, FBS_NO_INDEX, "NULL argument");
        return FBS_ERR_INVALID_ARGUMENT;
    }
    *out = fbs_buffer{nullptr, 0, nullptr};
    return guarded(err, [&] { return encode(in, out, err); });
}

fbs_code fbs_snapshot_verify(const void *buf, size_t len, fbs_error *err) {
    clear_error(err);
    return guarded(err, [&] { return verify(static_cast<const uint8_t *>(buf), len, err); });
}

fbs_code fbs_snapshot_verify_root(const void *buf, size_t len, fbs_error *err) {
    clear_error(err);
    return guarded(err, [&] { return verify_root(static_cast<const uint8_t *>(buf), len, err); });
}

fbs_code fbs_snapshot_verify_nodes(const void *buf, size_t len, size_t first, size_t count, fbs_error *err) {
    clear_error(err);
    if (buf == nullptr) {
        set_error(err, FBS_ERR_INVALID_ARGUMENT, FBS_NO_OFFSET, FBS_NO_INDEX, "NULL buffer");
        return FBS_ERR_INVALID_ARGUMENT;
    }
    return guarded(err, [&] { return verify_node_range(static_cast<const uint8_t *>(buf), len, first, count, err); });
}

fbs_code fbs_snapshot_read_header(const void *buf, fbs_snapshot_view *out) {
    if (buf == nullptr || out == nullptr) return FBS_ERR_INVALID_ARGUMENT;
    const fb::Snapshot *s = fb::GetSnapshot(buf);
    out->format_version = s->format_version();
    out->status = static_cast<fbs_workflow_status>(s->status());
    out->created_at_us = s->created_at_us();
    out->updated_at_us = s->updated_at_us();
    out->last_sequence = s->last_sequence();
    out->id = view_of(s->id());
    out->tenant = view_of(s->tenant());
    out->fingerprint = view_of(s->fingerprint());
    out->input = view_of(s->input());
    out->definition = view_of(s->definition());
    out->node_count = s->nodes() ? s->nodes()->size() : 0;
    out->data_count = s->data() ? s->data()->size() : 0;
    out->reason = view_of(s->reason());
    out->recoveries = s->recoveries();
    out->reserved2 = 0;
    out->budget_count = s->budgets() ? s->budgets()->size() : 0;
    out->has_edges = s->edges() != nullptr ? 1 : 0;
    out->edge_count = s->edges() ? s->edges()->size() : 0;
    std::memset(out->reserved3, 0, sizeof out->reserved3);
    return FBS_OK;
}

fbs_code fbs_snapshot_read_edges(const void *buf, size_t first, size_t count, fbs_edge *out) {
    if (buf == nullptr || (out == nullptr && count != 0)) return FBS_ERR_INVALID_ARGUMENT;
    const auto *edges = fb::GetSnapshot(buf)->edges();
    const size_t total = edges ? edges->size() : 0;
    if (first > total || count > total - first) return FBS_ERR_OUT_OF_RANGE;
    for (size_t i = 0; i < count; ++i) {
        const fb::Edge *e = edges->Get(static_cast<flatbuffers::uoffset_t>(first + i));
        out[i] = fbs_edge{e->node(), e->dependency()};
    }
    return FBS_OK;
}

fbs_code fbs_snapshot_read_budgets(const void *buf, size_t first, size_t count, fbs_node_budget *out) {
    if (buf == nullptr || (out == nullptr && count != 0)) return FBS_ERR_INVALID_ARGUMENT;
    const auto *budgets = fb::GetSnapshot(buf)->budgets();
    const size_t total = budgets ? budgets->size() : 0;
    if (first > total || count > total - first) return FBS_ERR_OUT_OF_RANGE;
    for (size_t i = 0; i < count; ++i) {
        const fb::NodeBudget *budget = budgets->Get(static_cast<flatbuffers::uoffset_t>(first + i));
        out[i] = fbs_node_budget{budget->counted(), budget->crashed(), static_cast<uint8_t>(budget->open() ? 1 : 0), {0, 0, 0}};
    }
    return FBS_OK;
}

fbs_code fbs_snapshot_read_nodes(const void *buf, size_t first, size_t count, fbs_node_view *out) {
    if (buf == nullptr || (out == nullptr && count != 0)) return FBS_ERR_INVALID_ARGUMENT;
    const auto *nodes = fb::GetSnapshot(buf)->nodes();
    const size_t total = nodes ? nodes->size() : 0;
    if (first > total || count > total - first) return FBS_ERR_OUT_OF_RANGE;
    for (size_t i = 0; i < count; ++i) {
        const fb::Node *n = nodes->Get(static_cast<flatbuffers::uoffset_t>(first + i));
        fbs_node_view &v = out[i];
        v.name = view_of(n->name());
        v.error = view_of(n->error());
        v.output = view_of(n->output());
        const auto started = n->started_at_us();
        const auto ended = n->ended_at_us();
        v.has_started_at = started.has_value() ? 1 : 0;
        v.started_at_us = started.value_or(0);
        v.has_ended_at = ended.has_value() ? 1 : 0;
        v.ended_at_us = ended.value_or(0);
        v.attempts = n->attempts();
        v.status = static_cast<fbs_node_status>(n->status());
        std::memset(v.reserved, 0, sizeof v.reserved);
    }
    return FBS_OK;
}

fbs_code fbs_snapshot_read_data(const void *buf, size_t first, size_t count, fbs_kv_view *out) {
    if (buf == nullptr || (out == nullptr && count != 0)) return FBS_ERR_INVALID_ARGUMENT;
    const auto *data = fb::GetSnapshot(buf)->data();
    const size_t total = data ? data->size() : 0;
    if (first > total || count > total - first) return FBS_ERR_OUT_OF_RANGE;
    for (size_t i = 0; i < count; ++i) {
        const fb::KeyValue *kv = data->Get(static_cast<flatbuffers::uoffset_t>(first + i));
        out[i].key = view_of(kv->key());
        out[i].value = view_of(kv->value());
    }
    return FBS_OK;
}

}  // extern "C"
