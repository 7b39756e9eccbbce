// Snapshot (Schemas/workflow.fbs): encode from arena slices, verify, zero-copy reads.
#include "Internal.h"

#include "generated/workflow_generated.h"

#include <algorithm>

using namespace fbs_internal;
namespace fb = flow::fb;

namespace {

const char kIdentifier[] = "FLWS";

// Upper bounds of the fixed bytes one table adds (table, vtable, vector slot, alignment).
constexpr uint64_t kNodeOverhead = 160;
constexpr uint64_t kKeyValueOverhead = 80;
constexpr uint64_t kSnapshotOverhead = 1024;

struct ResolvedNode {
    Bytes name, error, output;
};

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

flatbuffers::Offset<flatbuffers::String> make_string(flatbuffers::FlatBufferBuilder &b, const Bytes &s) {
    if (!s.present()) return 0;
    return b.CreateString(reinterpret_cast<const char *>(s.data), s.length);
}

flatbuffers::Offset<flatbuffers::Vector<uint8_t>> make_bytes(flatbuffers::FlatBufferBuilder &b, const Bytes &v) {
    if (!v.present()) return 0;
    return b.CreateVector(v.data, v.length);
}

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

    Bytes id, tenant, fingerprint, input, definition;
    fbs_code rc;
    if ((rc = resolve_input(arena, in->id, kRequired | kUTF8, "snapshot id", FBS_NO_INDEX, &id, err)) != FBS_OK ||
        (rc = resolve_input(arena, in->tenant, kRequired | kUTF8, "snapshot tenant", FBS_NO_INDEX, &tenant, err)) != FBS_OK ||
        (rc = resolve_input(arena, in->fingerprint, kRequired | kUTF8, "snapshot fingerprint", FBS_NO_INDEX, &fingerprint,
                            err)) != FBS_OK ||
        (rc = resolve_input(arena, in->input, kOptional, "snapshot input", FBS_NO_INDEX, &input, err)) != FBS_OK ||
        (rc = resolve_input(arena, in->definition, kOptional, "snapshot definition", FBS_NO_INDEX, &definition, err)) !=
            FBS_OK) {
        return rc;
    }
    uint64_t bound = kSnapshotOverhead + encoded_bound(id) + encoded_bound(tenant) + encoded_bound(fingerprint) +
                     encoded_bound(input) + encoded_bound(definition);

    std::vector<ResolvedNode> nodes(in->node_count);
    for (size_t i = 0; i < in->node_count; ++i) {
        const fbs_node_in &n = in->nodes[i];
        ResolvedNode &r = nodes[i];
        if ((rc = resolve_input(arena, n.name, kRequired | kUTF8, "node name", i, &r.name, err)) != FBS_OK ||
            (rc = resolve_input(arena, n.error, kUTF8, "node error", i, &r.error, err)) != FBS_OK ||
            (rc = resolve_input(arena, n.output, kOptional, "node output", i, &r.output, err)) != FBS_OK) {
            return rc;
        }
        if (static_cast<unsigned>(n.status) > static_cast<unsigned>(fb::NodeStatus_MAX)) {
            set_error(err, FBS_ERR_BAD_ENUM, FBS_NO_OFFSET, i, "node %zu: status %u is out of range", i,
                      static_cast<unsigned>(n.status));
            return FBS_ERR_BAD_ENUM;
        }
        bound += kNodeOverhead + encoded_bound(r.name) + encoded_bound(r.error) + encoded_bound(r.output);
        if (bound >= FBS_MAX_BUFFER_SIZE) break;
    }

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
    // of the over-estimate are never faulted in.
    flatbuffers::FlatBufferBuilder b(static_cast<size_t>(bound));

    std::vector<flatbuffers::Offset<fb::Node>> node_offsets(in->node_count);
    for (size_t i = 0; i < in->node_count; ++i) {
        const fbs_node_in &n = in->nodes[i];
        const ResolvedNode &r = nodes[i];
        const auto name = make_string(b, r.name);
        const auto error = make_string(b, r.error);
        const auto output = make_bytes(b, r.output);
        fb::NodeBuilder nb(b);
        if (n.has_started_at) nb.add_started_at_us(n.started_at_us);
        if (n.has_ended_at) nb.add_ended_at_us(n.ended_at_us);
        nb.add_name(name);
        if (!error.IsNull()) nb.add_error(error);
        if (!output.IsNull()) nb.add_output(output);
        nb.add_attempts(n.attempts);
        nb.add_status(static_cast<fb::NodeStatus>(n.status));
        node_offsets[i] = nb.Finish();
    }
    const auto nodes_vector = b.CreateVector(node_offsets);
    node_offsets = {};

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

    fb::SnapshotBuilder sb(b);
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

    hand_over(b, out);
    return FBS_OK;
}

fbs_code verify(const uint8_t *buf, size_t len, fbs_error *err) {
    fbs_code rc = check_buffer_prelude(buf, len, kIdentifier, "snapshot", err);
    if (rc != FBS_OK) return rc;
    if (!run_verifier<fb::Snapshot>(buf, len, kIdentifier)) {
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
        (rc = strings.check(s->fingerprint(), "snapshot fingerprint", FBS_NO_INDEX, err)) != FBS_OK) {
        return rc;
    }
    if (const auto *nodes = s->nodes()) {
        const flatbuffers::uoffset_t count = nodes->size();
        for (flatbuffers::uoffset_t i = 0; i < count; ++i) {
            const fb::Node *n = nodes->Get(i);
            if (static_cast<unsigned>(n->status()) > static_cast<unsigned>(fb::NodeStatus_MAX)) {
                set_error(err, FBS_ERR_BAD_ENUM, offset_of(buf, n), i, "node %u: status %u is out of range", i,
                          static_cast<unsigned>(n->status()));
                return FBS_ERR_BAD_ENUM;
            }
            if ((rc = strings.check(n->name(), "node name", i, err)) != FBS_OK ||
                (rc = strings.check(n->error(), "node error", i, err)) != FBS_OK) {
                return rc;
            }
        }
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
