// Summary (Schemas/summary.fbs): the small uncompressed file that answers `list`.
#include "Internal.h"

FBS_BEGIN_GENERATED_CODE
#include "generated/summary_generated.h"
FBS_END_GENERATED_CODE

using namespace fbs_internal;
namespace fb = flow::fb;

namespace {

const char kIdentifier[] = "FLWM";

template <typename... Counts>
uint64_t count_sum(Counts... counts) noexcept {
    return (uint64_t{0} + ... + static_cast<uint64_t>(counts));
}

fbs_code encode(const fbs_summary_in *in, fbs_buffer *out, fbs_error *err) {
    if (in->arena == nullptr && in->arena_len != 0) {
        set_error(err, FBS_ERR_INVALID_ARGUMENT, FBS_NO_OFFSET, FBS_NO_INDEX, "arena is NULL but arena_len is not 0");
        return FBS_ERR_INVALID_ARGUMENT;
    }
    const Arena arena(in->arena, in->arena_len);
    Bytes id, tenant, fingerprint, reason;
    fbs_code rc;
    if ((rc = resolve_input(arena, in->id, kRequired | kUTF8, "summary id", FBS_NO_INDEX, &id, err)) != FBS_OK ||
        (rc = resolve_input(arena, in->tenant, kRequired | kUTF8, "summary tenant", FBS_NO_INDEX, &tenant, err)) != FBS_OK ||
        (rc = resolve_input(arena, in->fingerprint, kRequired | kUTF8, "summary fingerprint", FBS_NO_INDEX, &fingerprint,
                            err)) != FBS_OK ||
        (rc = resolve_input(arena, in->reason, kOptional | kUTF8, "summary reason", FBS_NO_INDEX, &reason, err)) !=
            FBS_OK) {
        return rc;
    }
    if (static_cast<unsigned>(in->status) > static_cast<unsigned>(fb::WorkflowStatus_MAX)) {
        set_error(err, FBS_ERR_BAD_ENUM, FBS_NO_OFFSET, FBS_NO_INDEX, "workflow status %u is out of range",
                  static_cast<unsigned>(in->status));
        return FBS_ERR_BAD_ENUM;
    }
    if (count_sum(in->pending, in->running, in->completed, in->failed, in->skipped, in->cancelled, in->waiting,
                  in->bypassed, in->interrupted, in->compensated, in->compensation_failed) != in->node_count) {
        set_error(err, FBS_ERR_INCONSISTENT, FBS_NO_OFFSET, FBS_NO_INDEX,
                  "node_count %u is not the sum of the per-status counts", in->node_count);
        return FBS_ERR_INCONSISTENT;
    }
    const uint64_t bound =
        640 + encoded_bound(id) + encoded_bound(tenant) + encoded_bound(fingerprint) + encoded_bound(reason);
    if (bound >= FBS_MAX_BUFFER_SIZE) {
        set_error(err, FBS_ERR_TOO_LARGE, FBS_NO_OFFSET, FBS_NO_INDEX, "the summary would exceed 2 GiB");
        return FBS_ERR_TOO_LARGE;
    }
    flatbuffers::FlatBufferBuilder b(static_cast<size_t>(bound));
    const auto id_off = b.CreateString(reinterpret_cast<const char *>(id.data), id.length);
    const auto tenant_off = b.CreateString(reinterpret_cast<const char *>(tenant.data), tenant.length);
    const auto fingerprint_off = b.CreateString(reinterpret_cast<const char *>(fingerprint.data), fingerprint.length);
    const auto reason_off =
        reason.present() ? b.CreateString(reinterpret_cast<const char *>(reason.data), reason.length) : 0;
    fb::SummaryBuilder sb(b);
    if (!reason_off.IsNull()) sb.add_reason(reason_off);
    sb.add_compensation_failed(in->compensation_failed);
    sb.add_compensated(in->compensated);
    sb.add_interrupted(in->interrupted);
    sb.add_bypassed(in->bypassed);
    sb.add_waiting(in->waiting);
    sb.add_snapshot_bytes(in->snapshot_bytes);
    sb.add_last_sequence(in->last_sequence);
    sb.add_updated_at_us(in->updated_at_us);
    sb.add_created_at_us(in->created_at_us);
    sb.add_cancelled(in->cancelled);
    sb.add_skipped(in->skipped);
    sb.add_failed(in->failed);
    sb.add_completed(in->completed);
    sb.add_running(in->running);
    sb.add_pending(in->pending);
    sb.add_node_count(in->node_count);
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
    fbs_code rc = check_buffer_prelude(buf, len, kIdentifier, "summary", err);
    if (rc != FBS_OK) return rc;
    if (!run_verifier<fb::Summary>(buf, len, kIdentifier)) {
        set_error(err, FBS_ERR_VERIFY, FBS_NO_OFFSET, FBS_NO_INDEX,
                  "summary: FlatBuffers verifier rejected the buffer (%zu bytes)", len);
        return FBS_ERR_VERIFY;
    }
    const fb::Summary *s = fb::GetSummary(buf);
    const uint64_t root = offset_of(buf, s);
    if (s->format_version() == 0 || s->format_version() > FBS_FORMAT_VERSION) {
        set_error(err, FBS_ERR_UNSUPPORTED_VERSION, root, FBS_NO_INDEX,
                  "summary: format_version %u, this build reads 1...%u", s->format_version(), FBS_FORMAT_VERSION);
        return FBS_ERR_UNSUPPORTED_VERSION;
    }
    if (s->tenant() == nullptr || s->fingerprint() == nullptr) {
        set_error(err, FBS_ERR_MISSING_FIELD, root, FBS_NO_INDEX, "summary: %s is missing",
                  s->tenant() == nullptr ? "tenant" : "fingerprint");
        return FBS_ERR_MISSING_FIELD;
    }
    if (static_cast<unsigned>(s->status()) > static_cast<unsigned>(fb::WorkflowStatus_MAX)) {
        set_error(err, FBS_ERR_BAD_ENUM, root, FBS_NO_INDEX, "summary: workflow status %u is out of range",
                  static_cast<unsigned>(s->status()));
        return FBS_ERR_BAD_ENUM;
    }
    if (count_sum(s->pending(), s->running(), s->completed(), s->failed(), s->skipped(), s->cancelled(),
                  s->waiting(), s->bypassed(), s->interrupted(), s->compensated(), s->compensation_failed()) !=
        s->node_count()) {
        set_error(err, FBS_ERR_INCONSISTENT, root, FBS_NO_INDEX,
                  "summary: node_count %u is not the sum of the per-status counts", s->node_count());
        return FBS_ERR_INCONSISTENT;
    }
    StringChecker strings(buf, len);
    if ((rc = strings.check(s->id(), "summary id", FBS_NO_INDEX, err)) != FBS_OK ||
        (rc = strings.check(s->tenant(), "summary tenant", FBS_NO_INDEX, err)) != FBS_OK ||
        (rc = strings.check(s->fingerprint(), "summary fingerprint", FBS_NO_INDEX, err)) != FBS_OK ||
        (rc = strings.check(s->reason(), "summary reason", FBS_NO_INDEX, err)) != FBS_OK) {
        return rc;
    }
    return FBS_OK;
}

}  // namespace

extern "C" {

fbs_code fbs_summary_encode(const fbs_summary_in *in, fbs_buffer *out, fbs_error *err) {
    clear_error(err);
    if (in == nullptr || out == nullptr) {
        set_error(err, FBS_ERR_INVALID_ARGUMENT, FBS_NO_OFFSET, FBS_NO_INDEX, "NULL argument");
        return FBS_ERR_INVALID_ARGUMENT;
    }
    *out = fbs_buffer{nullptr, 0, nullptr};
    return guarded(err, [&] { return encode(in, out, err); });
}

fbs_code fbs_summary_verify(const void *buf, size_t len, fbs_error *err) {
    clear_error(err);
    return guarded(err, [&] { return verify(static_cast<const uint8_t *>(buf), len, err); });
}

fbs_code fbs_summary_read(const void *buf, fbs_summary_view *out) {
    if (buf == nullptr || out == nullptr) return FBS_ERR_INVALID_ARGUMENT;
    const fb::Summary *s = fb::GetSummary(buf);
    out->format_version = s->format_version();
    out->status = static_cast<fbs_workflow_status>(s->status());
    out->id = view_of(s->id());
    out->tenant = view_of(s->tenant());
    out->fingerprint = view_of(s->fingerprint());
    out->created_at_us = s->created_at_us();
    out->updated_at_us = s->updated_at_us();
    out->last_sequence = s->last_sequence();
    out->snapshot_bytes = s->snapshot_bytes();
    out->node_count = s->node_count();
    out->pending = s->pending();
    out->running = s->running();
    out->completed = s->completed();
    out->failed = s->failed();
    out->skipped = s->skipped();
    out->cancelled = s->cancelled();
    out->reserved = 0;
    out->waiting = s->waiting();
    out->bypassed = s->bypassed();
    out->interrupted = s->interrupted();
    out->compensated = s->compensated();
    out->compensation_failed = s->compensation_failed();
    out->reserved2 = 0;
    out->reason = view_of(s->reason());
    return FBS_OK;
}

}  // extern "C"
