// libFuzzer target: the plain-C API of FBSchema (Sources/FBSchema/include/FBSchema.h), built with
// the library's C++ under AddressSanitizer (see scripts/fuzz.sh).
//
// The first input byte chooses the call (byte % 7); the rest is its input, copied into a heap
// buffer of exactly its size at an 8-aligned address so that ASan sees any read past the end:
//   0  fbs_snapshot_verify, then every read function on an accepted buffer
//   1  fbs_summary_verify, then fbs_summary_read
//   2  fbs_journal_header_parse
//   3  fbs_records_scan without views and with 1, 3 and 4096 views, checked against each other
//   4  fbs_identify and fbs_crc32c, checked against the portable table CRC
//   5  fbs_snapshot_encode of a snapshot the input describes: an accepted one must verify and read
//      back as given (data sorted by key); a refused one must be refused for a true reason
//   6  fbs_records_encode of records the input describes: they must scan back as given
// Findings (abort): a crash or sanitizer report; a view outside the buffer or a string view not
// followed by NUL; scans that disagree; an encoder's output that does not verify or read back.
#include "FBSchema.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace fbs_internal {
uint32_t crc32c_portable(const void *data, size_t length, uint32_t seed) noexcept;
}

namespace {

[[noreturn]] void finding(const char *what) {
    std::fprintf(stderr, "FINDING: %s\n", what);
    std::abort();
}

/// A heap copy of exactly `len` bytes at an 8-aligned address.
struct Copy {
    uint8_t *data = nullptr;
    size_t len = 0;
    Copy(const uint8_t *bytes, size_t n) : len(n) {
        void *p = nullptr;
        if (posix_memalign(&p, 8, n == 0 ? 1 : n) != 0) std::abort();
        data = static_cast<uint8_t *>(p);
        if (n) std::memcpy(data, bytes, n);
    }
    ~Copy() { std::free(data); }
    Copy(const Copy &) = delete;
    Copy &operator=(const Copy &) = delete;
};

// The highest valid value of each enum; the fuzzer draws one value past it, so that both the
// accepted range and its first refused value are exercised. Update these with FBSchema.h.
constexpr unsigned last_workflow_status = FBS_WORKFLOW_COMPENSATION_FAILED;
constexpr unsigned last_node_status = FBS_NODE_COMPENSATION_FAILED;
constexpr unsigned last_event_kind = FBS_EVENT_NODE_CRASHED;

volatile uint32_t sink;

/// Reads every byte of a view (so ASan checks it) and checks that it lies inside [base, base+len).
void touch(const fbs_view &v, const uint8_t *base, size_t len, bool is_string) {
    if (v.data == nullptr) {
        if (v.length != 0) finding("absent view with a length");
        return;
    }
    const uint8_t *p = static_cast<const uint8_t *>(v.data);
    if (p < base || p > base + len || v.length > static_cast<size_t>(base + len - p)) finding("view outside the buffer");
    uint32_t sum = 0;
    for (size_t i = 0; i < v.length; ++i) sum += p[i];
    if (is_string) {
        if (v.length == static_cast<size_t>(base + len - p)) finding("string view without a terminator");
        if (p[v.length] != 0) finding("string view not followed by NUL");
    }
    sink = sum;
}

bool same(const fbs_view &v, const uint8_t *data, size_t length, bool present) {
    if (!present) return v.data == nullptr;
    return v.data != nullptr && v.length == length && (length == 0 || std::memcmp(v.data, data, length) == 0);
}

bool utf8(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        const uint8_t c = s[i];
        uint32_t cp;
        size_t need;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + need >= n) return false;
        for (size_t k = 1; k <= need; ++k) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min_for[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_for[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += need + 1;
    }
    return true;
}

// --- 0, 1, 2: verify and read ------------------------------------------------------------------

void snapshot(const uint8_t *bytes, size_t n) {
    Copy buf(bytes, n);
    fbs_error err;
    // Verification in parts (root, then the node tables in two ranges) decides as the whole does.
    bool parts = fbs_snapshot_verify_root(buf.data, buf.len, &err) == FBS_OK;
    if (parts) {
        fbs_snapshot_view root;
        fbs_snapshot_read_header(buf.data, &root);
        const size_t half = root.node_count / 2;
        parts = fbs_snapshot_verify_nodes(buf.data, buf.len, 0, half, &err) == FBS_OK &&
                fbs_snapshot_verify_nodes(buf.data, buf.len, half, root.node_count - half, &err) == FBS_OK;
    }
    const bool whole = fbs_snapshot_verify(buf.data, buf.len, &err) == FBS_OK;
    if (parts != whole) finding("verification in parts and whole disagree");
    if (!whole) {
        if (err.code == FBS_OK) finding("snapshot verify failed without a code");
        if (std::memchr(err.message, 0, sizeof err.message) == nullptr) finding("unterminated message");
        return;
    }
    const uint8_t *b = buf.data;
    fbs_snapshot_view h;
    if (fbs_snapshot_read_header(b, &h) != FBS_OK) finding("read_header failed on a verified buffer");
    touch(h.id, b, n, true);
    touch(h.tenant, b, n, true);
    touch(h.fingerprint, b, n, true);
    touch(h.input, b, n, false);
    touch(h.definition, b, n, false);
    if (h.id.data == nullptr || h.tenant.data == nullptr || h.fingerprint.data == nullptr) {
        finding("verified snapshot without id, tenant or fingerprint");
    }
    if (h.format_version == 0 || h.format_version > FBS_FORMAT_VERSION) finding("verified a bad version");
    if (static_cast<unsigned>(h.status) > last_workflow_status) finding("verified a bad workflow status");
    if (h.node_count > n || h.data_count > n) finding("more entries than bytes");
    std::vector<fbs_node_view> nodes(h.node_count + 1);
    if (fbs_snapshot_read_nodes(b, 0, h.node_count, nodes.data()) != FBS_OK) finding("read_nodes failed");
    if (fbs_snapshot_read_nodes(b, h.node_count, 1, nodes.data()) != FBS_ERR_OUT_OF_RANGE) {
        finding("read_nodes past the end accepted");
    }
    for (size_t i = 0; i < h.node_count; ++i) {
        touch(nodes[i].name, b, n, true);
        touch(nodes[i].error, b, n, true);
        touch(nodes[i].output, b, n, false);
        if (nodes[i].name.data == nullptr) finding("verified node without a name");
        if (static_cast<unsigned>(nodes[i].status) > last_node_status) finding("verified a bad node status");
        if (!utf8(static_cast<const uint8_t *>(nodes[i].name.data), nodes[i].name.length)) {
            finding("verified a node name that is not UTF-8");
        }
    }
    if (h.has_edges == 0 && h.edge_count != 0) finding("edges counted without edges");
    if (h.edge_count > n) finding("more edges than bytes");
    std::vector<fbs_edge> edges(h.edge_count + 1);
    if (fbs_snapshot_read_edges(b, 0, h.edge_count, edges.data()) != FBS_OK) finding("read_edges failed");
    if (fbs_snapshot_read_edges(b, h.edge_count, 1, edges.data()) != FBS_ERR_OUT_OF_RANGE) {
        finding("read_edges past the end accepted");
    }
    for (size_t i = 0; i < h.edge_count; ++i) {
        const fbs_edge &e = edges[i];
        if (e.node >= h.node_count || e.dependency >= h.node_count) finding("verified an edge past the nodes");
        if (e.node == e.dependency) finding("verified a self-edge");
        if (i > 0 && edges[i - 1].node > e.node) finding("verified edges out of node order");
        for (size_t j = 0; j < i; ++j) {
            if (edges[j].node == e.node && edges[j].dependency == e.dependency) finding("verified a repeated edge");
        }
    }
    std::vector<fbs_kv_view> data(h.data_count + 1);
    if (fbs_snapshot_read_data(b, 0, h.data_count, data.data()) != FBS_OK) finding("read_data failed");
    if (fbs_snapshot_read_data(b, 1, SIZE_MAX, data.data()) != FBS_ERR_OUT_OF_RANGE) {
        finding("read_data with an overflowing count accepted");
    }
    for (size_t i = 0; i < h.data_count; ++i) {
        touch(data[i].key, b, n, true);
        touch(data[i].value, b, n, false);
        if (data[i].key.data == nullptr) finding("verified entry without a key");
        if (i > 0) {
            const fbs_view &x = data[i - 1].key, &y = data[i].key;
            const int c = std::memcmp(x.data, y.data, std::min(x.length, y.length));
            if (c > 0 || (c == 0 && x.length >= y.length)) finding("verified unsorted or duplicate keys");
        }
    }
}

void summary(const uint8_t *bytes, size_t n) {
    Copy buf(bytes, n);
    fbs_error err;
    if (fbs_summary_verify(buf.data, buf.len, &err) != FBS_OK) return;
    fbs_summary_view v;
    if (fbs_summary_read(buf.data, &v) != FBS_OK) finding("summary_read failed on a verified buffer");
    touch(v.id, buf.data, n, true);
    touch(v.tenant, buf.data, n, true);
    touch(v.fingerprint, buf.data, n, true);
    const uint64_t sum = uint64_t(v.pending) + v.running + v.completed + v.failed + v.skipped + v.cancelled +
                         v.waiting + v.bypassed + v.interrupted + v.compensated + v.compensation_failed;
    if (sum != v.node_count) finding("verified summary whose counts do not add up");
    if (static_cast<unsigned>(v.status) > last_workflow_status) finding("verified a bad summary status");
}

void header(const uint8_t *bytes, size_t n) {
    Copy buf(bytes, n);
    fbs_journal_header h;
    fbs_error err;
    if (fbs_journal_header_parse(buf.data, buf.len, &h, &err) != FBS_OK) return;
    if (n < FBS_JOURNAL_HEADER_SIZE) finding("short header accepted");
    if (h.format_version == 0 || h.format_version > FBS_FORMAT_VERSION) finding("bad header version accepted");
    // The reserved field is for future flags; everything else must be what the encoder writes.
    uint8_t again[FBS_JOURNAL_HEADER_SIZE];
    fbs_journal_header_encode(h.base_sequence, again, sizeof again);
    if (std::memcmp(again, buf.data, 16) != 0) finding("accepted header differs from its re-encoding");
}

// --- 3: scan -------------------------------------------------------------------------------------

struct ScanAll {
    std::vector<fbs_record_view> views;  // frame_offset made relative to the whole buffer
    fbs_scan_result last;
    uint64_t consumed = 0;
};

/// Scans the whole buffer `capacity` views at a time, continuing after each FULL.
ScanAll scan_all(const uint8_t *buf, size_t n, size_t capacity) {
    ScanAll all;
    std::vector<fbs_record_view> chunk(capacity);
    for (;;) {
        fbs_scan_result r;
        const uint8_t *start = buf + all.consumed;
        if (fbs_records_scan(start, n - all.consumed, chunk.data(), capacity, &r) != FBS_OK) {
            finding("scan of an aligned buffer returned an error code");
        }
        if (r.count > capacity) finding("scan filled more views than it was given");
        if (r.consumed > n - all.consumed) finding("scan consumed more than the buffer");
        for (size_t i = 0; i < r.count; ++i) {
            fbs_record_view v = chunk[i];
            if (i == 0 ? v.frame_offset != 0 : v.frame_offset != chunk[i - 1].frame_offset + chunk[i - 1].frame_size) {
                finding("frames are not consecutive");
            }
            if (v.frame_size % 8 != 0 || v.frame_size < 16) finding("frame size not a multiple of 8");
            if (v.frame_offset + v.frame_size > r.consumed) finding("a view's frame lies past `consumed`");
            touch(v.node, start, r.consumed, true);
            touch(v.error, start, r.consumed, true);
            touch(v.key, start, r.consumed, true);
            touch(v.payload, start, r.consumed, false);
            if (static_cast<unsigned>(v.kind) > last_event_kind) finding("scan passed a bad event kind");
            if (static_cast<unsigned>(v.workflow_status) > last_workflow_status) finding("scan passed a bad status");
            v.frame_offset += all.consumed;
            all.views.push_back(v);
        }
        if (r.count > 0 && r.consumed != chunk[r.count - 1].frame_offset + chunk[r.count - 1].frame_size) {
            finding("`consumed` is not the end of the last good frame");
        }
        all.consumed += r.consumed;
        all.last = r;
        if (r.stop != FBS_SCAN_FULL) break;
        if (r.count != capacity) finding("FULL with views left");
    }
    const fbs_scan_result &r = all.last;
    if (r.stop == FBS_SCAN_END) {
        if (all.consumed != n || r.bad_offset != FBS_NO_OFFSET) finding("END before the end of the buffer");
    } else if (r.bad_offset != r.consumed) {
        finding("bad_offset is not where the good frames end");
    }
    return all;
}

void scan(const uint8_t *bytes, size_t n) {
    Copy buf(bytes, n);
    fbs_scan_result counted;
    if (fbs_records_scan(buf.data, n, nullptr, 0, &counted) != FBS_OK) finding("count-only scan failed");
    if (counted.stop == FBS_SCAN_FULL) finding("count-only scan stopped FULL");
    ScanAll one = scan_all(buf.data, n, 1), three = scan_all(buf.data, n, 3), many = scan_all(buf.data, n, 4096);
    for (const ScanAll *s : {&one, &three, &many}) {
        if (s->views.size() != counted.count || s->consumed != counted.consumed || s->last.stop != counted.stop) {
            finding("scans with different view capacities disagree");
        }
        for (size_t i = 0; i < s->views.size(); ++i) {
            const fbs_record_view &a = s->views[i], &b = many.views[i];
            if (a.frame_offset != b.frame_offset || a.sequence != b.sequence || a.kind != b.kind ||
                a.payload.data != b.payload.data) {
                finding("scans with different view capacities return different records");
            }
        }
    }
    if (n % 8 == 0 && n >= 8) {
        // Misaligned buffers are refused, not read.
        std::vector<uint8_t> shifted(n + 1);
        std::memcpy(shifted.data() + 1, buf.data, n);
        fbs_scan_result r;
        const uint8_t *p = shifted.data() + 1;
        if ((reinterpret_cast<uintptr_t>(p) & 7u) != 0 && fbs_records_scan(p, n, nullptr, 0, &r) != FBS_ERR_MISALIGNED) {
            finding("misaligned scan accepted");
        }
    }
}

// --- 4: identify and CRC --------------------------------------------------------------------------

void crc(const uint8_t *bytes, size_t n) {
    Copy buf(bytes, n);
    sink = fbs_identify(buf.data, n);
    const uint32_t seed = n >= 4 ? uint32_t(bytes[0]) | uint32_t(bytes[1]) << 8 | uint32_t(bytes[2]) << 16 |
                                       uint32_t(bytes[3]) << 24
                                 : 0;
    const uint32_t fast = fbs_crc32c(buf.data, n, seed);
    if (fast != fbs_internal::crc32c_portable(buf.data, n, seed)) finding("CRC32C paths disagree");
    const size_t split = n ? bytes[n - 1] % (n + 1) : 0;
    if (fbs_crc32c(buf.data + split, n - split, fbs_crc32c(buf.data, split, seed)) != fast) {
        finding("CRC32C of a split buffer differs");
    }
}

// --- 5, 6: encoders ---------------------------------------------------------------------------------

/// Takes structure from the front of the input; the whole input is also the arena.
struct Reader {
    const uint8_t *p;
    size_t n, pos = 0;
    uint8_t u8() { return pos < n ? p[pos++] : 0; }
    uint64_t u16() { return uint64_t(u8()) | uint64_t(u8()) << 8; }
    int64_t i64() {
        uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v |= uint64_t(u8()) << (8 * i);
        return static_cast<int64_t>(v);
    }
    /// A slice: mostly inside the arena, sometimes absent, sometimes out of range.
    fbs_slice slice(size_t arena) {
        const uint8_t kind = u8();
        if (kind % 8 == 0) return fbs_slice{0, FBS_ABSENT};
        const uint64_t length = kind % 8 == 1 ? 0 : u8() % 48;
        uint64_t offset = u16();
        if (kind % 16 != 7) offset = arena ? offset % arena : 0;
        return fbs_slice{offset, length};
    }
};

struct Slice {
    bool in_range, present;
    const uint8_t *data;
    size_t length;
};

Slice resolve(fbs_slice s, const uint8_t *arena, size_t len) {
    if (s.length == FBS_ABSENT) return {true, false, nullptr, 0};
    if (s.offset > len || s.length > len - s.offset) return {false, true, nullptr, 0};
    return {true, true, arena + s.offset, static_cast<size_t>(s.length)};
}

bool valid_text(const Slice &s) { return !s.present || utf8(s.data, s.length); }

void encode_snapshot(const uint8_t *bytes, size_t n) {
    Copy arena(bytes, n);
    Reader r{bytes, n};
    fbs_snapshot_in in;
    std::memset(&in, 0, sizeof in);
    in.arena = arena.data;
    in.arena_len = n;
    in.id = r.slice(n);
    in.tenant = r.slice(n);
    in.fingerprint = r.slice(n);
    in.input = r.slice(n);
    in.definition = r.slice(n);
    in.created_at_us = r.i64();
    in.updated_at_us = r.i64();
    in.last_sequence = static_cast<uint64_t>(r.i64());
    in.status = static_cast<fbs_workflow_status>(r.u8() % (last_workflow_status + 2));
    std::vector<fbs_node_in> nodes(r.u8() % 6);
    for (auto &node : nodes) {
        std::memset(&node, 0, sizeof node);
        node.name = r.slice(n);
        node.error = r.slice(n);
        node.output = r.slice(n);
        node.status = static_cast<fbs_node_status>(r.u8() % (last_node_status + 2));
        node.attempts = r.u8();
        node.has_started_at = r.u8() & 1;
        node.started_at_us = r.i64();
        node.has_ended_at = r.u8() & 1;
        node.ended_at_us = r.i64();
    }
    std::vector<fbs_kv_in> data(r.u8() % 6);
    for (auto &kv : data) kv = fbs_kv_in{r.slice(n), r.slice(n)};
    in.nodes = nodes.data();
    in.node_count = nodes.size();
    in.data = data.data();
    in.data_count = data.size();
    // Threads and scratch memory must not change the bytes' validity: a scratch of a fuzzed
    // size (often too small, then the encoder must fall back to its own memory).
    in.threads = r.u8() % 5;
    std::vector<uint64_t> scratch(r.u8() & 1 ? static_cast<size_t>(r.u16()) : 0);
    in.scratch = scratch.empty() ? nullptr : scratch.data();
    in.scratch_len = scratch.size() * sizeof(uint64_t);
    // The DAG's shape: absent, or a few edges over indices up to one past the last node.
    in.has_edges = r.u8() & 1;
    std::vector<fbs_edge> edges(in.has_edges ? r.u8() % 8 : 0);
    for (auto &e : edges) e = fbs_edge{r.u8() % static_cast<uint32_t>(nodes.size() + 1), r.u8() % static_cast<uint32_t>(nodes.size() + 1)};
    in.edges = edges.data();
    in.edge_count = edges.size();

    // What the encoder must decide, worked out independently.
    bool in_range = true, text_ok = true, required = true, enums_ok = static_cast<unsigned>(in.status) <= last_workflow_status;
    auto field = [&](fbs_slice s, bool text, bool must) {
        const Slice x = resolve(s, arena.data, n);
        in_range &= x.in_range;
        if (x.in_range && text) text_ok &= valid_text(x);
        if (must) required &= x.present;
        return x;
    };
    const Slice id = field(in.id, true, true), tenant = field(in.tenant, true, true),
                fingerprint = field(in.fingerprint, true, true), input = field(in.input, false, false),
                definition = field(in.definition, false, false);
    std::vector<Slice> names, errors, outputs, keys, values;
    for (const auto &node : nodes) {
        names.push_back(field(node.name, true, true));
        errors.push_back(field(node.error, true, false));
        outputs.push_back(field(node.output, false, false));
        enums_ok &= static_cast<unsigned>(node.status) <= last_node_status;
    }
    for (const auto &kv : data) {
        keys.push_back(field(kv.key, true, true));
        values.push_back(field(kv.value, false, false));
    }
    std::vector<std::string> key_text;
    for (const auto &k : keys) key_text.emplace_back(k.present && k.data ? std::string(reinterpret_cast<const char *>(k.data), k.length) : std::string());
    std::vector<std::string> sorted = key_text;
    std::sort(sorted.begin(), sorted.end());
    const bool unique = std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
    bool edges_ok = true;
    for (size_t i = 0; i < edges.size(); ++i) {
        const fbs_edge &e = edges[i];
        edges_ok &= e.node < nodes.size() && e.dependency < nodes.size() && e.node != e.dependency;
        if (i > 0) edges_ok &= edges[i - 1].node <= e.node;
        for (size_t j = 0; j < i; ++j) edges_ok &= !(edges[j].node == e.node && edges[j].dependency == e.dependency);
    }
    const bool should_pass = in_range && text_ok && required && enums_ok && unique && edges_ok;

    fbs_buffer out;
    fbs_error err;
    const fbs_code rc = fbs_snapshot_encode(&in, &out, &err);
    if (rc != FBS_OK) {
        if (should_pass) {
            std::fprintf(stderr, "encoder said: %s\n", err.message);
            finding("snapshot encoder refused a valid snapshot");
        }
        return;
    }
    if (!should_pass) finding("snapshot encoder accepted an invalid snapshot");
    if ((reinterpret_cast<uintptr_t>(out.data) & 7u) != 0) finding("encoder output not 8-aligned");
    if (!scratch.empty()) {
        const auto *start = reinterpret_cast<const uint8_t *>(scratch.data());
        const auto *data = static_cast<const uint8_t *>(out.data);
        const bool inside = data >= start && data + out.size <= start + in.scratch_len;
        if (inside != (out.opaque == nullptr)) finding("a result in scratch must own nothing; outside, its bytes");
    }
    if (fbs_snapshot_verify(out.data, out.size, &err) != FBS_OK) {
        std::fprintf(stderr, "verify said: %s\n", err.message);
        finding("an encoded snapshot does not verify");
    }
    fbs_snapshot_view h;
    fbs_snapshot_read_header(out.data, &h);
    if (!same(h.id, id.data, id.length, true) || !same(h.tenant, tenant.data, tenant.length, true) ||
        !same(h.fingerprint, fingerprint.data, fingerprint.length, true) ||
        !same(h.input, input.data, input.length, input.present) ||
        !same(h.definition, definition.data, definition.length, definition.present) ||
        h.created_at_us != in.created_at_us || h.updated_at_us != in.updated_at_us ||
        h.last_sequence != in.last_sequence || h.status != in.status || h.node_count != nodes.size() ||
        h.data_count != data.size() || h.format_version != FBS_FORMAT_VERSION || h.has_edges != in.has_edges ||
        h.edge_count != edges.size()) {
        finding("snapshot header reads back differently");
    }
    std::vector<fbs_edge> ev(edges.size());
    fbs_snapshot_read_edges(out.data, 0, edges.size(), ev.data());
    for (size_t i = 0; i < edges.size(); ++i) {
        if (ev[i].node != edges[i].node || ev[i].dependency != edges[i].dependency) finding("an edge reads back differently");
    }
    std::vector<fbs_node_view> nv(nodes.size());
    fbs_snapshot_read_nodes(out.data, 0, nodes.size(), nv.data());
    for (size_t i = 0; i < nodes.size(); ++i) {
        const fbs_node_in &a = nodes[i];
        const fbs_node_view &b = nv[i];
        if (!same(b.name, names[i].data, names[i].length, true) ||
            !same(b.error, errors[i].data, errors[i].length, errors[i].present) ||
            !same(b.output, outputs[i].data, outputs[i].length, outputs[i].present) || b.status != a.status ||
            b.attempts != a.attempts || b.has_started_at != a.has_started_at || b.has_ended_at != a.has_ended_at ||
            (a.has_started_at && b.started_at_us != a.started_at_us) ||
            (a.has_ended_at && b.ended_at_us != a.ended_at_us)) {
            finding("a node reads back differently");
        }
    }
    std::vector<fbs_kv_view> kv(data.size());
    fbs_snapshot_read_data(out.data, 0, data.size(), kv.data());
    for (size_t i = 0; i < data.size(); ++i) {
        const std::string key(static_cast<const char *>(kv[i].key.data), kv[i].key.length);
        if (key != sorted[i]) finding("data keys read back unsorted or changed");
        const size_t j = std::find(key_text.begin(), key_text.end(), key) - key_text.begin();
        if (!same(kv[i].value, values[j].data, values[j].length, values[j].present)) {
            finding("a data value reads back differently");
        }
    }
    fbs_buffer_free(&out);
    fbs_buffer_free(&out);  // a freed (zeroed) buffer may be freed again
}

void encode_records(const uint8_t *bytes, size_t n) {
    Copy arena(bytes, n);
    Reader r{bytes, n};
    std::vector<fbs_record_in> records(r.u8() % 6);
    bool should_pass = true;
    std::vector<Slice> nodes, errors, keys, payloads;
    for (auto &rec : records) {
        std::memset(&rec, 0, sizeof rec);
        rec.sequence = static_cast<uint64_t>(r.i64());
        rec.time_us = r.i64();
        rec.delay_us = r.i64();
        rec.node = r.slice(n);
        rec.error = r.slice(n);
        rec.key = r.slice(n);
        rec.payload = r.slice(n);
        rec.node_index = static_cast<int32_t>(r.u16()) - 2;
        rec.attempt = r.u8();
        rec.kind = static_cast<fbs_event_kind>(r.u8() % (last_event_kind + 2));
        rec.workflow_status = static_cast<fbs_workflow_status>(r.u8() % (last_workflow_status + 2));
        nodes.push_back(resolve(rec.node, arena.data, n));
        errors.push_back(resolve(rec.error, arena.data, n));
        keys.push_back(resolve(rec.key, arena.data, n));
        payloads.push_back(resolve(rec.payload, arena.data, n));
        for (const Slice *s : {&nodes.back(), &errors.back(), &keys.back()}) {
            should_pass &= s->in_range && valid_text(*s);
        }
        should_pass &= payloads.back().in_range && static_cast<unsigned>(rec.kind) <= last_event_kind &&
                       static_cast<unsigned>(rec.workflow_status) <= last_workflow_status;
    }
    fbs_buffer out;
    fbs_error err;
    const fbs_code rc = fbs_records_encode(records.data(), records.size(), arena.data, n, &out, &err);
    if (rc != FBS_OK) {
        if (should_pass) {
            std::fprintf(stderr, "encoder said: %s\n", err.message);
            finding("record encoder refused valid records");
        }
        return;
    }
    if (!should_pass) finding("record encoder accepted invalid records");
    if ((reinterpret_cast<uintptr_t>(out.data) & 7u) != 0 && out.size != 0) finding("encoder output not 8-aligned");
    std::vector<fbs_record_view> views(records.size() + 1);
    fbs_scan_result result;
    fbs_records_scan(out.data, out.size, views.data(), views.size(), &result);
    if (result.stop != FBS_SCAN_END || result.count != records.size()) finding("encoded records do not scan back");
    for (size_t i = 0; i < records.size(); ++i) {
        const fbs_record_in &a = records[i];
        const fbs_record_view &b = views[i];
        if (b.sequence != a.sequence || b.time_us != a.time_us || b.delay_us != a.delay_us ||
            b.node_index != a.node_index || b.attempt != a.attempt || b.kind != a.kind ||
            b.workflow_status != a.workflow_status || !same(b.node, nodes[i].data, nodes[i].length, nodes[i].present) ||
            !same(b.error, errors[i].data, errors[i].length, errors[i].present) ||
            !same(b.key, keys[i].data, keys[i].length, keys[i].present) ||
            !same(b.payload, payloads[i].data, payloads[i].length, payloads[i].present)) {
            finding("a record reads back differently");
        }
    }
    fbs_buffer_free(&out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const uint8_t *rest = data + 1;
    const size_t n = size - 1;
    switch (data[0] % 7) {
        case 0: snapshot(rest, n); break;
        case 1: summary(rest, n); break;
        case 2: header(rest, n); break;
        case 3: scan(rest, n); break;
        case 4: crc(rest, n); break;
        case 5: encode_snapshot(rest, n); break;
        default: encode_records(rest, n); break;
    }
    return 0;
}
