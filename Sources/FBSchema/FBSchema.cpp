// Shared pieces of the C API: errors, buffers, UTF-8, arena slices, file identification.
#include "Internal.h"

#include <cstdarg>
#include <cstdio>

namespace fbs_internal {

namespace {
const uint8_t kEmptyByte[1] = {0};
}  // namespace

void set_error(fbs_error *err, fbs_code code, uint64_t offset, uint64_t index, const char *format, ...) {
    if (err == nullptr) return;
    err->code = code;
    err->reserved = 0;
    err->offset = offset;
    err->index = index;
    va_list args;
    va_start(args, format);
    const int written = std::vsnprintf(err->message, sizeof err->message, format, args);
    va_end(args);
    if (written < 0) err->message[0] = '\0';
}

void clear_error(fbs_error *err) {
    if (err == nullptr) return;
    err->code = FBS_OK;
    err->reserved = 0;
    err->offset = FBS_NO_OFFSET;
    err->index = FBS_NO_INDEX;
    err->message[0] = '\0';
}

bool valid_utf8(const uint8_t *s, size_t n) noexcept {
    size_t i = 0;
    while (i < n) {
        // ASCII fast path, eight bytes at a time.
        if (i + 8 <= n) {
            uint64_t word;
            std::memcpy(&word, s + i, 8);
            if ((word & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        const uint8_t c = s[i];
        if (c < 0x80) {
            i += 1;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;       // no overlongs
            else if (c == 0xED) hi = 0x9F;  // no surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;       // no overlongs
            else if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
        } else {
            return false;
        }
        if (n - i <= need) return false;
        if (s[i + 1] < lo || s[i + 1] > hi) return false;
        for (size_t k = 2; k <= need; ++k) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
        }
        i += need + 1;
    }
    return true;
}

bool Arena::resolve(fbs_slice slice, Bytes *out) const noexcept {
    if (slice.length == FBS_ABSENT) {
        *out = Bytes{nullptr, 0};
        return true;
    }
    if (slice.length == 0) {
        // Empty: needs no arena bytes, but its offset must still be within the arena.
        if (slice.offset > length_) return false;
        *out = Bytes{kEmptyByte, 0};
        return true;
    }
    if (base_ == nullptr || slice.offset > length_ || slice.length > length_ - slice.offset) return false;
    *out = Bytes{base_ + slice.offset, static_cast<size_t>(slice.length)};
    return true;
}

fbs_code resolve_input(const Arena &arena, fbs_slice slice, unsigned rules, const char *field, uint64_t index,
                       Bytes *out, fbs_error *err) noexcept {
    if (!arena.resolve(slice, out)) {
        set_error(err, FBS_ERR_ARENA_RANGE, FBS_NO_OFFSET, index,
                  "%s: slice (offset %llu, length %llu) lies outside the arena", field,
                  static_cast<unsigned long long>(slice.offset), static_cast<unsigned long long>(slice.length));
        return FBS_ERR_ARENA_RANGE;
    }
    if ((rules & kRequired) && !out->present()) {
        set_error(err, FBS_ERR_MISSING_FIELD, FBS_NO_OFFSET, index, "%s is required but absent", field);
        return FBS_ERR_MISSING_FIELD;
    }
    if ((rules & kUTF8) && out->present() && !valid_utf8(out->data, out->length)) {
        set_error(err, FBS_ERR_BAD_UTF8, FBS_NO_OFFSET, index, "%s is not valid UTF-8", field);
        return FBS_ERR_BAD_UTF8;
    }
    return FBS_OK;
}

fbs_code check_buffer_prelude(const void *buf, size_t len, const char *identifier, const char *what,
                              fbs_error *err) noexcept {
    if (len == 0) {
        set_error(err, FBS_ERR_EMPTY, 0, FBS_NO_INDEX, "%s: empty buffer", what);
        return FBS_ERR_EMPTY;
    }
    if (buf == nullptr) {
        set_error(err, FBS_ERR_INVALID_ARGUMENT, FBS_NO_OFFSET, FBS_NO_INDEX, "%s: NULL buffer", what);
        return FBS_ERR_INVALID_ARGUMENT;
    }
    if (static_cast<uint64_t>(len) >= FBS_MAX_BUFFER_SIZE) {
        set_error(err, FBS_ERR_TOO_LARGE, FBS_NO_OFFSET, FBS_NO_INDEX,
                  "%s: %llu bytes, the limit is 2 GiB - 2", what, static_cast<unsigned long long>(len));
        return FBS_ERR_TOO_LARGE;
    }
    if ((reinterpret_cast<uintptr_t>(buf) & 7u) != 0) {
        set_error(err, FBS_ERR_MISALIGNED, 0, FBS_NO_INDEX, "%s: buffer is not 8-byte aligned", what);
        return FBS_ERR_MISALIGNED;
    }
    // Root offset (4) + identifier (4) + the smallest table (soffset 4) + its vtable (4).
    if (len < 16) {
        set_error(err, FBS_ERR_TRUNCATED, len, FBS_NO_INDEX, "%s: %zu bytes is too short", what, len);
        return FBS_ERR_TRUNCATED;
    }
    if (!flatbuffers::BufferHasIdentifier(buf, identifier)) {
        const uint8_t *p = static_cast<const uint8_t *>(buf) + 4;
        char shown[4];
        for (int i = 0; i < 4; ++i) shown[i] = (p[i] >= 0x20 && p[i] < 0x7F) ? static_cast<char>(p[i]) : '?';
        set_error(err, FBS_ERR_BAD_IDENTIFIER, 4, FBS_NO_INDEX, "%s: file identifier \"%.4s\", expected \"%s\"",
                  what, shown, identifier);
        return FBS_ERR_BAD_IDENTIFIER;
    }
    return FBS_OK;
}

fbs_code StringChecker::check(const flatbuffers::String *s, const char *what, uint64_t index,
                              fbs_error *err) noexcept {
    if (s == nullptr) return FBS_OK;
    const size_t n = s->size();
    if (n > budget_) {
        set_error(err, FBS_ERR_VERIFY, offset_of(base_, s), index,
                  "%s: strings shared so often that checking them exceeds the work budget", what);
        return FBS_ERR_VERIFY;
    }
    budget_ -= n;
    if (!valid_utf8(reinterpret_cast<const uint8_t *>(s->data()), n)) {
        set_error(err, FBS_ERR_BAD_UTF8, offset_of(base_, s), index, "%s is not valid UTF-8", what);
        return FBS_ERR_BAD_UTF8;
    }
    return FBS_OK;
}

void hand_over(flatbuffers::FlatBufferBuilder &builder, fbs_buffer *out) {
    auto *owned = new OwnedDetached(builder.Release());
    out->data = owned->buffer.data();
    out->size = owned->buffer.size();
    out->opaque = owned;
}

}  // namespace fbs_internal

using namespace fbs_internal;

extern "C" {

void fbs_buffer_free(fbs_buffer *buffer) {
    if (buffer == nullptr) return;
    delete static_cast<Owned *>(buffer->opaque);
    buffer->data = nullptr;
    buffer->size = 0;
    buffer->opaque = nullptr;
}

uint32_t fbs_format_version(void) { return FBS_FORMAT_VERSION; }

const char *fbs_code_description(fbs_code code) {
    switch (code) {
        case FBS_OK: return "ok";
        case FBS_ERR_INVALID_ARGUMENT: return "invalid argument";
        case FBS_ERR_OUT_OF_MEMORY: return "out of memory";
        case FBS_ERR_INTERNAL: return "internal error";
        case FBS_ERR_ARENA_RANGE: return "input slice outside the arena";
        case FBS_ERR_TOO_LARGE: return "too large";
        case FBS_ERR_DUPLICATE_KEY: return "duplicate key";
        case FBS_ERR_EMPTY: return "empty buffer";
        case FBS_ERR_MISALIGNED: return "buffer not 8-byte aligned";
        case FBS_ERR_TRUNCATED: return "truncated";
        case FBS_ERR_BAD_IDENTIFIER: return "wrong file identifier";
        case FBS_ERR_VERIFY: return "FlatBuffers verifier rejected the buffer";
        case FBS_ERR_BAD_ENUM: return "enum value out of range";
        case FBS_ERR_MISSING_FIELD: return "required field missing";
        case FBS_ERR_BAD_UTF8: return "invalid UTF-8";
        case FBS_ERR_UNSORTED_KEYS: return "data keys not sorted";
        case FBS_ERR_INCONSISTENT: return "inconsistent fields";
        case FBS_ERR_UNSUPPORTED_VERSION: return "unsupported format version";
        case FBS_ERR_BAD_MAGIC: return "bad journal magic";
        case FBS_ERR_BAD_CHECKSUM: return "checksum mismatch";
        case FBS_ERR_OUT_OF_RANGE: return "index out of range";
        case FBS_ERR_BAD_LENGTH: return "bad frame length";
        case FBS_ERR_TORN_TAIL: return "torn tail";
        case FBS_ERR_BAD_PADDING: return "non-zero frame padding";
    }
    return "unknown error code";
}

fbs_file_kind fbs_identify(const void *buf, size_t len) {
    if (buf == nullptr || len < 8) return FBS_FILE_UNKNOWN;
    const uint8_t *p = static_cast<const uint8_t *>(buf);
    static const uint8_t zstd_magic[4] = {0x28, 0xB5, 0x2F, 0xFD};
    if (std::memcmp(p, zstd_magic, 4) == 0) return FBS_FILE_ZSTD;
    if (std::memcmp(p, "FLWJ", 4) == 0) return FBS_FILE_JOURNAL;
    if (std::memcmp(p + 4, "FLWS", 4) == 0) return FBS_FILE_SNAPSHOT;
    if (std::memcmp(p + 4, "FLWM", 4) == 0) return FBS_FILE_SUMMARY;
    return FBS_FILE_UNKNOWN;
}

}  // extern "C"
