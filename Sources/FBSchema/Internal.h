// Internal helpers shared by the FBSchema implementation files. Not part of the public API:
// nothing here is visible to Swift (only include/FBSchema.h is).
#ifndef FBSCHEMA_INTERNAL_H
#define FBSCHEMA_INTERNAL_H

#include "FBSchema.h"

// libstdc++ 12's std::stable_sort (instantiated by the generated CreateVectorOfSortedTables)
// calls its own deprecated std::get_temporary_buffer, which newer clang reports even inside the
// system header. Include <algorithm> first, with that one warning off for the system headers
// only; our own code keeps every warning.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
#endif
#include <algorithm>
#include <memory>
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

// Code this project does not write (the FlatBuffers headers and flatc's output in generated/) is
// included between these two, with -Wunused-parameter off: their inline functions leave
// parameters unused, which -Wextra reports. Our own code keeps every warning. (GCC's spelling;
// clang accepts it.) This replaces a package-wide `-Wno-unused-parameter`, an unsafe flag that
// SwiftPM refuses in a package used as a dependency.
#define FBS_BEGIN_GENERATED_CODE \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wunused-parameter\"")
#define FBS_END_GENERATED_CODE _Pragma("GCC diagnostic pop")

FBS_BEGIN_GENERATED_CODE
#include <flatbuffers/flatbuffers.h>
FBS_END_GENERATED_CODE

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

namespace fbs_internal {

/// Fills `err` (when not NULL) with a code, offset, index and printf-style message.
void set_error(fbs_error *err, fbs_code code, uint64_t offset, uint64_t index, const char *format, ...)
    __attribute__((format(printf, 5, 6)));

/// Resets `err` (when not NULL) to FBS_OK with an empty message.
void clear_error(fbs_error *err);

/// Runs `body`, turning escaping C++ exceptions into error codes so none crosses into Swift.
template <typename Body>
fbs_code guarded(fbs_error *err, Body &&body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc &) {
        set_error(err, FBS_ERR_OUT_OF_MEMORY, FBS_NO_OFFSET, FBS_NO_INDEX, "out of memory");
        return FBS_ERR_OUT_OF_MEMORY;
    } catch (...) {
        set_error(err, FBS_ERR_INTERNAL, FBS_NO_OFFSET, FBS_NO_INDEX, "unexpected C++ exception");
        return FBS_ERR_INTERNAL;
    }
}

/// True for a valid UTF-8 byte sequence (RFC 3629: no overlongs, surrogates or code points
/// above U+10FFFF). Embedded NUL bytes are valid.
bool valid_utf8(const uint8_t *bytes, size_t length) noexcept;

/// The table-driven CRC32C, whatever the CPU has (fbs_crc32c may use CRC instructions);
/// same contract as fbs_crc32c. For tests comparing both paths.
uint32_t crc32c_portable(const void *data, size_t length, uint32_t seed) noexcept;

/// Resolved input slice: `data == nullptr` means absent. A present empty slice points at a
/// static byte so that `data` is never NULL for present fields.
struct Bytes {
    const uint8_t *data;
    size_t length;
    bool present() const noexcept { return data != nullptr; }
};

/// The caller's arena: every input string and blob is a slice of it.
class Arena {
  public:
    Arena(const void *base, size_t length) noexcept
        : base_(static_cast<const uint8_t *>(base)), length_(base ? length : 0) {}

    /// Resolves `slice`; false when it lies (even partly) outside the arena.
    bool resolve(fbs_slice slice, Bytes *out) const noexcept;

  private:
    const uint8_t *base_;
    size_t length_;
};

/// Resolves `slice` for encoder input field `field` of item `index`; on failure fills `err`
/// with FBS_ERR_ARENA_RANGE (or FBS_ERR_MISSING_FIELD / FBS_ERR_BAD_UTF8 per the flags).
enum SliceRule : unsigned { kOptional = 0, kRequired = 1, kUTF8 = 2 };
fbs_code resolve_input(const Arena &arena, fbs_slice slice, unsigned rules, const char *field,
                       uint64_t index, Bytes *out, fbs_error *err) noexcept;

/// Upper bound of the bytes a string or byte vector of `length` bytes adds to a FlatBuffer
/// (length prefix, terminator, alignment padding).
inline uint64_t encoded_bound(const Bytes &bytes) noexcept {
    return bytes.present() ? static_cast<uint64_t>(bytes.length) + 16 : 0;
}

/// Checks shared by every verify entry point: NULL, empty, size, alignment, minimum size and
/// the file identifier at offset 4.
fbs_code check_buffer_prelude(const void *buf, size_t len, const char *identifier, const char *what,
                              fbs_error *err) noexcept;

/// Runs the FlatBuffers Verifier for root type T with a table budget that scales with the size.
template <typename T>
bool run_verifier(const uint8_t *buf, size_t len, const char *identifier) {
    const uint64_t tables = 1000000u + static_cast<uint64_t>(len) / 4u;
    flatbuffers::Verifier verifier(buf, len, 64,
                                   static_cast<flatbuffers::uoffset_t>(tables > 0xFFFFFFFFu ? 0xFFFFFFFFu : tables));
    return verifier.VerifyBuffer<T>(identifier);
}

/// Byte offset of `p` from `base`.
inline uint64_t offset_of(const void *base, const void *p) noexcept {
    return static_cast<uint64_t>(static_cast<const uint8_t *>(p) - static_cast<const uint8_t *>(base));
}

/// Validates strings of a verified buffer as UTF-8 with a work budget, so that a crafted buffer
/// sharing one long string among many tables cannot make verification quadratic.
class StringChecker {
  public:
    StringChecker(const void *base, size_t len) noexcept
        : base_(base), budget_(static_cast<uint64_t>(len) * 64u + (64u << 20)) {}

    /// FBS_OK for NULL (absent) or valid strings; otherwise sets `err`.
    fbs_code check(const flatbuffers::String *s, const char *what, uint64_t index, fbs_error *err) noexcept;

  private:
    const void *base_;
    uint64_t budget_;
};

/// Result owner behind `fbs_buffer.opaque`.
struct Owned {
    virtual ~Owned() = default;
};

struct OwnedDetached final : Owned {
    explicit OwnedDetached(flatbuffers::DetachedBuffer &&b) : buffer(std::move(b)) {}
    flatbuffers::DetachedBuffer buffer;
};

struct OwnedVector final : Owned {
    std::vector<uint8_t> bytes;
};

/// Hands a finished builder's buffer to `out` without copying it.
void hand_over(flatbuffers::FlatBufferBuilder &builder, fbs_buffer *out);

/// View of a FlatBuffers string / byte vector (NULL = absent).
inline fbs_view view_of(const flatbuffers::String *s) noexcept {
    return s ? fbs_view{s->data(), s->size()} : fbs_view{nullptr, 0};
}
inline fbs_view view_of(const flatbuffers::Vector<uint8_t> *v) noexcept {
    return v ? fbs_view{v->data(), v->size()} : fbs_view{nullptr, 0};
}

/// Little-endian loads and stores.
inline uint32_t load_le32(const uint8_t *p) noexcept {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
           static_cast<uint32_t>(p[3]) << 24;
}
inline uint64_t load_le64(const uint8_t *p) noexcept {
    return static_cast<uint64_t>(load_le32(p)) | static_cast<uint64_t>(load_le32(p + 4)) << 32;
}
inline void store_le32(uint8_t *p, uint32_t v) noexcept {
    p[0] = static_cast<uint8_t>(v);
    p[1] = static_cast<uint8_t>(v >> 8);
    p[2] = static_cast<uint8_t>(v >> 16);
    p[3] = static_cast<uint8_t>(v >> 24);
}
inline void store_le64(uint8_t *p, uint64_t v) noexcept {
    store_le32(p, static_cast<uint32_t>(v));
    store_le32(p + 4, static_cast<uint32_t>(v >> 32));
}

}  // namespace fbs_internal

#endif  // FBSCHEMA_INTERNAL_H
