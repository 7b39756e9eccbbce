// CRC32C (Castagnoli): table-driven slicing-by-8, with the SSE4.2 / ARMv8 CRC instructions when
// the CPU has them. Both paths give identical results (checked by the tests' known vectors).
#include "Internal.h"

#include <array>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define FBS_CRC_X86 1
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>
#define FBS_CRC_ARM 1
#endif

namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // reflected 0x1EDC6F41

using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables make_tables() {
    Tables t{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ kPolynomial : c >> 1;
        t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
        for (size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFu];
    }
    return t;
}

constexpr Tables kTables = make_tables();

/// `crc` is the running (inverted) register value.
uint32_t crc32c_software(uint32_t crc, const uint8_t *p, size_t n) noexcept {
    while (n != 0 && (reinterpret_cast<uintptr_t>(p) & 7u) != 0) {
        crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xFFu];
        --n;
    }
    while (n >= 8) {
        const uint32_t lo = fbs_internal::load_le32(p) ^ crc;
        const uint32_t hi = fbs_internal::load_le32(p + 4);
        crc = kTables[7][lo & 0xFFu] ^ kTables[6][(lo >> 8) & 0xFFu] ^ kTables[5][(lo >> 16) & 0xFFu] ^
              kTables[4][lo >> 24] ^ kTables[3][hi & 0xFFu] ^ kTables[2][(hi >> 8) & 0xFFu] ^
              kTables[1][(hi >> 16) & 0xFFu] ^ kTables[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n != 0) {
        crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xFFu];
        --n;
    }
    return crc;
}

#if defined(FBS_CRC_X86)
__attribute__((target("sse4.2"))) uint32_t crc32c_hardware(uint32_t crc, const uint8_t *p, size_t n) noexcept {
    while (n != 0 && (reinterpret_cast<uintptr_t>(p) & 7u) != 0) {
        crc = _mm_crc32_u8(crc, *p++);
        --n;
    }
#if defined(__x86_64__)
    uint64_t wide = crc;
    while (n >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        wide = _mm_crc32_u64(wide, word);
        p += 8;
        n -= 8;
    }
    crc = static_cast<uint32_t>(wide);
#endif
    while (n >= 4) {
        uint32_t word;
        std::memcpy(&word, p, 4);
        crc = _mm_crc32_u32(crc, word);
        p += 4;
        n -= 4;
    }
    while (n != 0) {
        crc = _mm_crc32_u8(crc, *p++);
        --n;
    }
    return crc;
}

bool have_hardware() noexcept {
    static const bool have = __builtin_cpu_supports("sse4.2");
    return have;
}
#elif defined(FBS_CRC_ARM)
uint32_t crc32c_hardware(uint32_t crc, const uint8_t *p, size_t n) noexcept {
    while (n != 0 && (reinterpret_cast<uintptr_t>(p) & 7u) != 0) {
        crc = __crc32cb(crc, *p++);
        --n;
    }
    while (n >= 8) {
        uint64_t word;
        std::memcpy(&word, p, 8);
        crc = __crc32cd(crc, word);
        p += 8;
        n -= 8;
    }
    while (n != 0) {
        crc = __crc32cb(crc, *p++);
        --n;
    }
    return crc;
}

bool have_hardware() noexcept { return true; }
#endif

}  // namespace

namespace fbs_internal {

uint32_t crc32c_portable(const void *data, size_t length, uint32_t seed) noexcept {
    if (data == nullptr) return seed;
    return ~crc32c_software(~seed, static_cast<const uint8_t *>(data), length);
}

}  // namespace fbs_internal

extern "C" uint32_t fbs_crc32c(const void *data, size_t length, uint32_t seed) {
    if (data == nullptr || length == 0) return seed;
    const uint8_t *p = static_cast<const uint8_t *>(data);
#if defined(FBS_CRC_X86) || defined(FBS_CRC_ARM)
    if (have_hardware()) return ~crc32c_hardware(~seed, p, length);
#endif
    return ~crc32c_software(~seed, p, length);
}
