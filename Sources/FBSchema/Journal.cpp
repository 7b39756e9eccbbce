// Journal (Schemas/journal.fbs): file header, framed Record encoding, and the frame scanner.
//
// File   = header (FBS_JOURNAL_HEADER_SIZE bytes) then frames.
// Header = "FLWJ" | u32 format_version | u64 base_sequence | u32 reserved (0) | u32 CRC32C of bytes 0..19
// Frame  = u32 L | u32 CRC32C(payload) | payload (L bytes: one Record FlatBuffer) | zero padding to 8
// All integers little-endian. Length and CRC cover the payload only, not the header or padding.
#include "Internal.h"

FBS_BEGIN_GENERATED_CODE
#include "generated/journal_generated.h"
FBS_END_GENERATED_CODE

using namespace fbs_internal;
namespace fb = flow::fb;

namespace {

const char kIdentifier[] = "FLWJ";
const char kMagic[4] = {'F', 'L', 'W', 'J'};
constexpr size_t kHeaderCRCOffset = 20;
// A payload must hold at least the root offset and the file identifier.
constexpr uint32_t kMinPayload = 8;

constexpr uint64_t padded(uint64_t n) noexcept { return (n + (FBS_FRAME_ALIGNMENT - 1)) & ~uint64_t(FBS_FRAME_ALIGNMENT - 1); }

fbs_code encode_records(const fbs_record_in *records, size_t count, const Arena &arena, fbs_buffer *out,
                        fbs_error *err) {
    struct Resolved {
        Bytes node, error, key, payload;
    };
    std::vector<Resolved> resolved(count);
    uint64_t total = 0;
    for (size_t i = 0; i < count; ++i) {
        const fbs_record_in &r = records[i];
        Resolved &x = resolved[i];
        fbs_code rc;
        if ((rc = resolve_input(arena, r.node, kUTF8, "record node", i, &x.node, err)) != FBS_OK ||
            (rc = resolve_input(arena, r.error, kUTF8, "record error", i, &x.error, err)) != FBS_OK ||
            (rc = resolve_input(arena, r.key, kUTF8, "record key", i, &x.key, err)) != FBS_OK ||
            (rc = resolve_input(arena, r.payload, kOptional, "record payload", i, &x.payload, err)) != FBS_OK) {
            return rc;
        }
        if (static_cast<unsigned>(r.kind) > static_cast<unsigned>(fb::EventKind_MAX)) {
            set_error(err, FBS_ERR_BAD_ENUM, FBS_NO_OFFSET, i, "record %zu: event kind %u is out of range", i,
                      static_cast<unsigned>(r.kind));
            return FBS_ERR_BAD_ENUM;
        }
        if (static_cast<unsigned>(r.workflow_status) > static_cast<unsigned>(fb::WorkflowStatus_MAX)) {
            set_error(err, FBS_ERR_BAD_ENUM, FBS_NO_OFFSET, i, "record %zu: workflow status %u is out of range", i,
                      static_cast<unsigned>(r.workflow_status));
            return FBS_ERR_BAD_ENUM;
        }
        const uint64_t bound = 256 + encoded_bound(x.node) + encoded_bound(x.error) + encoded_bound(x.key) +
                               encoded_bound(x.payload);
        if (bound > FBS_MAX_RECORD_SIZE) {
            set_error(err, FBS_ERR_TOO_LARGE, FBS_NO_OFFSET, i, "record %zu: larger than the 1 GiB record limit", i);
            return FBS_ERR_TOO_LARGE;
        }
        total += FBS_FRAME_HEADER_SIZE + bound;
    }

    auto owned = std::unique_ptr<OwnedVector>(new OwnedVector());
    std::vector<uint8_t> &bytes = owned->bytes;
    bytes.reserve(static_cast<size_t>(total));
    flatbuffers::FlatBufferBuilder b(1024);
    for (size_t i = 0; i < count; ++i) {
        const fbs_record_in &r = records[i];
        const Resolved &x = resolved[i];
        b.Clear();
        const auto node = x.node.present() ? b.CreateString(reinterpret_cast<const char *>(x.node.data), x.node.length)
                                           : flatbuffers::Offset<flatbuffers::String>(0);
        const auto error = x.error.present()
                               ? b.CreateString(reinterpret_cast<const char *>(x.error.data), x.error.length)
                               : flatbuffers::Offset<flatbuffers::String>(0);
        const auto key = x.key.present() ? b.CreateString(reinterpret_cast<const char *>(x.key.data), x.key.length)
                                         : flatbuffers::Offset<flatbuffers::String>(0);
        const auto payload = x.payload.present() ? b.CreateVector(x.payload.data, x.payload.length)
                                                 : flatbuffers::Offset<flatbuffers::Vector<uint8_t>>(0);
        fb::RecordBuilder rb(b);
        rb.add_sequence(r.sequence);
        rb.add_time_us(r.time_us);
        rb.add_delay_us(r.delay_us);
        if (!node.IsNull()) rb.add_node(node);
        if (!error.IsNull()) rb.add_error(error);
        if (!key.IsNull()) rb.add_key(key);
        if (!payload.IsNull()) rb.add_payload(payload);
        rb.add_node_index(r.node_index);
        rb.add_attempt(r.attempt);
        rb.add_kind(static_cast<fb::EventKind>(r.kind));
        rb.add_workflow_status(static_cast<fb::WorkflowStatus>(r.workflow_status));
        b.Finish(rb.Finish(), kIdentifier);

        const uint8_t *payload_bytes = b.GetBufferPointer();
        const uint32_t length = b.GetSize();
        uint8_t header[FBS_FRAME_HEADER_SIZE];
        store_le32(header, length);
        store_le32(header + 4, fbs_crc32c(payload_bytes, length, 0));
        bytes.insert(bytes.end(), header, header + sizeof header);
        bytes.insert(bytes.end(), payload_bytes, payload_bytes + length);
        bytes.resize(bytes.size() + static_cast<size_t>(padded(length) - length), 0);
    }
    out->data = bytes.data();
    out->size = bytes.size();
    out->opaque = owned.release();
    return FBS_OK;
}

/// Checks one record payload (already length- and CRC-checked). Offsets in `err` are relative
/// to `base` (the scanned buffer).
fbs_code verify_record(const uint8_t *base, const uint8_t *p, uint32_t length, uint64_t index, fbs_error *err) {
    const uint64_t at = offset_of(base, p);
    if (!flatbuffers::BufferHasIdentifier(p, kIdentifier)) {
        set_error(err, FBS_ERR_BAD_IDENTIFIER, at + 4, index, "record %llu: file identifier is not \"FLWJ\"",
                  static_cast<unsigned long long>(index));
        return FBS_ERR_BAD_IDENTIFIER;
    }
    flatbuffers::Verifier verifier(p, length);
    if (!verifier.VerifyBuffer<fb::Record>(kIdentifier)) {
        set_error(err, FBS_ERR_VERIFY, at, index, "record %llu: FlatBuffers verifier rejected it",
                  static_cast<unsigned long long>(index));
        return FBS_ERR_VERIFY;
    }
    const fb::Record *r = fb::GetRecord(p);
    if (static_cast<unsigned>(r->kind()) > static_cast<unsigned>(fb::EventKind_MAX)) {
        set_error(err, FBS_ERR_BAD_ENUM, offset_of(base, r), index, "record %llu: event kind %u is out of range",
                  static_cast<unsigned long long>(index), static_cast<unsigned>(r->kind()));
        return FBS_ERR_BAD_ENUM;
    }
    if (static_cast<unsigned>(r->workflow_status()) > static_cast<unsigned>(fb::WorkflowStatus_MAX)) {
        set_error(err, FBS_ERR_BAD_ENUM, offset_of(base, r), index,
                  "record %llu: workflow status %u is out of range", static_cast<unsigned long long>(index),
                  static_cast<unsigned>(r->workflow_status()));
        return FBS_ERR_BAD_ENUM;
    }
    StringChecker strings(base, length);
    fbs_code rc;
    if ((rc = strings.check(r->node(), "record node", index, err)) != FBS_OK ||
        (rc = strings.check(r->error(), "record error", index, err)) != FBS_OK ||
        (rc = strings.check(r->key(), "record key", index, err)) != FBS_OK) {
        return rc;
    }
    return FBS_OK;
}

bool all_zero(const uint8_t *p, size_t n) noexcept {
    for (size_t i = 0; i < n; ++i) {
        if (p[i] != 0) return false;
    }
    return true;
}

void stop(fbs_scan_result *result, fbs_scan_stop why, uint64_t at) noexcept {
    result->stop = why;
    result->bad_offset = (why == FBS_SCAN_END || why == FBS_SCAN_FULL) ? FBS_NO_OFFSET : at;
}

void scan(const uint8_t *buf, size_t len, fbs_record_view *out, size_t capacity, fbs_scan_result *result) {
    fbs_error *err = &result->error;
    uint64_t pos = 0;
    size_t count = 0;
    for (;;) {
        result->count = count;
        result->consumed = pos;
        const uint64_t rest = len - pos;
        if (rest == 0) return stop(result, FBS_SCAN_END, pos);
        if (out != nullptr && count == capacity) return stop(result, FBS_SCAN_FULL, pos);
        const uint8_t *frame = buf + pos;
        if (rest < FBS_FRAME_HEADER_SIZE) {
            set_error(err, FBS_ERR_TORN_TAIL, pos, count, "frame at %llu: only %llu of the 8 header bytes",
                      static_cast<unsigned long long>(pos), static_cast<unsigned long long>(rest));
            return stop(result, FBS_SCAN_TORN_TAIL, pos);
        }
        const uint32_t length = load_le32(frame);
        const uint32_t crc = load_le32(frame + 4);
        if (length < kMinPayload || length > FBS_MAX_RECORD_SIZE) {
            if (all_zero(frame, static_cast<size_t>(rest))) {
                set_error(err, FBS_ERR_TORN_TAIL, pos, count, "frame at %llu: the last %llu bytes are zero fill",
                          static_cast<unsigned long long>(pos), static_cast<unsigned long long>(rest));
                return stop(result, FBS_SCAN_TORN_TAIL, pos);
            }
            set_error(err, FBS_ERR_BAD_LENGTH, pos, count, "frame at %llu: payload length %u is out of bounds",
                      static_cast<unsigned long long>(pos), length);
            return stop(result, FBS_SCAN_BAD_LENGTH, pos);
        }
        const uint64_t frame_size = FBS_FRAME_HEADER_SIZE + padded(length);
        if (frame_size > rest) {
            set_error(err, FBS_ERR_TORN_TAIL, pos, count, "frame at %llu: %llu bytes present of %llu",
                      static_cast<unsigned long long>(pos), static_cast<unsigned long long>(rest),
                      static_cast<unsigned long long>(frame_size));
            return stop(result, FBS_SCAN_TORN_TAIL, pos);
        }
        const uint8_t *payload = frame + FBS_FRAME_HEADER_SIZE;
        const uint32_t actual = fbs_crc32c(payload, length, 0);
        if (actual != crc) {
            set_error(err, FBS_ERR_BAD_CHECKSUM, pos, count,
                      "frame at %llu: CRC32C is 0x%08x, the header says 0x%08x",
                      static_cast<unsigned long long>(pos), actual, crc);
            return stop(result, FBS_SCAN_BAD_CHECKSUM, pos);
        }
        if (!all_zero(payload + length, static_cast<size_t>(padded(length) - length))) {
            set_error(err, FBS_ERR_BAD_PADDING, pos, count, "frame at %llu: padding is not zero",
                      static_cast<unsigned long long>(pos));
            return stop(result, FBS_SCAN_BAD_PADDING, pos);
        }
        if (verify_record(buf, payload, length, count, err) != FBS_OK) {
            return stop(result, FBS_SCAN_BAD_RECORD, pos);
        }
        if (out != nullptr) {
            const fb::Record *r = fb::GetRecord(payload);
            fbs_record_view &v = out[count];
            v.frame_offset = pos;
            v.frame_size = frame_size;
            v.sequence = r->sequence();
            v.time_us = r->time_us();
            v.delay_us = r->delay_us();
            v.node = view_of(r->node());
            v.error = view_of(r->error());
            v.key = view_of(r->key());
            v.payload = view_of(r->payload());
            v.node_index = r->node_index();
            v.attempt = r->attempt();
            v.kind = static_cast<fbs_event_kind>(r->kind());
            v.workflow_status = static_cast<fbs_workflow_status>(r->workflow_status());
        }
        ++count;
        pos += frame_size;
    }
}

}  // namespace

extern "C" {

fbs_code fbs_journal_header_encode(uint64_t base_sequence, void *out, size_t out_len) {
    if (out == nullptr || out_len < FBS_JOURNAL_HEADER_SIZE) return FBS_ERR_INVALID_ARGUMENT;
    uint8_t *p = static_cast<uint8_t *>(out);
    std::memcpy(p, kMagic, 4);
    store_le32(p + 4, FBS_FORMAT_VERSION);
    store_le64(p + 8, base_sequence);
    store_le32(p + 16, 0);
    store_le32(p + kHeaderCRCOffset, fbs_crc32c(p, kHeaderCRCOffset, 0));
    return FBS_OK;
}

fbs_code fbs_journal_header_parse(const void *buf, size_t len, fbs_journal_header *out, fbs_error *err) {
    clear_error(err);
    if (len == 0) {
        set_error(err, FBS_ERR_EMPTY, 0, FBS_NO_INDEX, "journal: empty file");
        return FBS_ERR_EMPTY;
    }
    if (buf == nullptr || out == nullptr) {
        set_error(err, FBS_ERR_INVALID_ARGUMENT, FBS_NO_OFFSET, FBS_NO_INDEX, "NULL argument");
        return FBS_ERR_INVALID_ARGUMENT;
    }
    const uint8_t *p = static_cast<const uint8_t *>(buf);
    if (std::memcmp(p, kMagic, len < 4 ? len : 4) != 0) {
        set_error(err, FBS_ERR_BAD_MAGIC, 0, FBS_NO_INDEX, "journal: the file does not start with \"FLWJ\"");
        return FBS_ERR_BAD_MAGIC;
    }
    if (len < FBS_JOURNAL_HEADER_SIZE) {
        set_error(err, FBS_ERR_TRUNCATED, len, FBS_NO_INDEX, "journal: header cut short at %zu of %u bytes", len,
                  FBS_JOURNAL_HEADER_SIZE);
        return FBS_ERR_TRUNCATED;
    }
    const uint32_t stored = load_le32(p + kHeaderCRCOffset);
    const uint32_t actual = fbs_crc32c(p, kHeaderCRCOffset, 0);
    if (stored != actual) {
        set_error(err, FBS_ERR_BAD_CHECKSUM, kHeaderCRCOffset, FBS_NO_INDEX,
                  "journal: header CRC32C is 0x%08x, the header says 0x%08x", actual, stored);
        return FBS_ERR_BAD_CHECKSUM;
    }
    const uint32_t version = load_le32(p + 4);
    if (version == 0 || version > FBS_FORMAT_VERSION) {
        set_error(err, FBS_ERR_UNSUPPORTED_VERSION, 4, FBS_NO_INDEX, "journal: format_version %u, this build reads 1...%u",
                  version, FBS_FORMAT_VERSION);
        return FBS_ERR_UNSUPPORTED_VERSION;
    }
    out->format_version = version;
    out->reserved = 0;
    out->base_sequence = load_le64(p + 8);
    return FBS_OK;
}

fbs_code fbs_records_encode(const fbs_record_in *records, size_t count, const void *arena, size_t arena_len,
                            fbs_buffer *out, fbs_error *err) {
    clear_error(err);
    if (out == nullptr || (records == nullptr && count != 0) || (arena == nullptr && arena_len != 0)) {
        set_error(err, FBS_ERR_INVALID_ARGUMENT, FBS_NO_OFFSET, FBS_NO_INDEX, "NULL argument");
        return FBS_ERR_INVALID_ARGUMENT;
    }
    *out = fbs_buffer{nullptr, 0, nullptr};
    const Arena a(arena, arena_len);
    return guarded(err, [&] { return encode_records(records, count, a, out, err); });
}

fbs_code fbs_records_scan(const void *buf, size_t len, fbs_record_view *out, size_t capacity,
                          fbs_scan_result *result) {
    if (result == nullptr) return FBS_ERR_INVALID_ARGUMENT;
    std::memset(result, 0, sizeof *result);
    clear_error(&result->error);
    result->bad_offset = FBS_NO_OFFSET;
    if (buf == nullptr && len != 0) {
        set_error(&result->error, FBS_ERR_INVALID_ARGUMENT, FBS_NO_OFFSET, FBS_NO_INDEX, "NULL buffer");
        return FBS_ERR_INVALID_ARGUMENT;
    }
    if ((reinterpret_cast<uintptr_t>(buf) & 7u) != 0) {
        set_error(&result->error, FBS_ERR_MISALIGNED, 0, FBS_NO_INDEX, "journal: buffer is not 8-byte aligned");
        return FBS_ERR_MISALIGNED;
    }
    return guarded(&result->error, [&] {
        scan(static_cast<const uint8_t *>(buf), len, out, capacity, result);
        return FBS_OK;
    });
}

}  // extern "C"
