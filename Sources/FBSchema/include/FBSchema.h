/*
 * FBSchema.h — the plain-C wall between Swift and FlowOrchestrator's on-disk format.
 *
 * The format itself is defined by the .fbs files in Schemas/ and described in docs/format.md. This header is
 * the only thing Swift sees: no C++ type crosses it, every symbol is prefixed `fbs_`, raw buffers
 * are `void *` / `const void *`, and no function lets a C++ exception escape.
 *
 * Conventions
 * - Inputs: every string and byte blob is an `fbs_slice` (offset, length) into ONE caller-owned
 *   arena (`arena`, `arena_len`). A slice whose length is `FBS_ABSENT` means "field absent";
 *   length 0 means "present and empty" (a distinct value for outputs and payloads). Strings are
 *   UTF-8 without a terminator; encoders reject invalid UTF-8.
 * - Outputs of encoders: an `fbs_buffer` that owns its bytes until `fbs_buffer_free`. `data` is
 *   8-byte aligned.
 * - Decoding is zero-copy: `*_verify` first, then `*_read_*` fill views whose pointers point INTO
 *   the caller's buffer (valid as long as that buffer is). An `fbs_view` with `data == NULL` is an
 *   absent field; a present field has a non-NULL `data`, even when `length == 0`. String views are
 *   followed by a NUL byte in the buffer (not counted in `length`).
 * - Buffers handed to verify/scan must be 8-byte aligned (decompress or read into an aligned
 *   allocation); a misaligned buffer is refused with FBS_ERR_MISALIGNED.
 * - `*_read_*` functions trust a buffer that has passed the matching `*_verify`/scan; calling them
 *   on anything else is undefined behaviour.
 * - Every fallible function returns an `fbs_code` (FBS_OK = 0) and, when `err` is not NULL,
 *   fills it with the code, a message, and the byte offset / item index when known.
 * - All functions are reentrant and thread-safe; nothing here keeps global mutable state.
 */
#ifndef FBSCHEMA_H
#define FBSCHEMA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Constants
 * ------------------------------------------------------------------------------------------- */

/** Version of the on-disk format written by this library (snapshot, summary, journal). Bumped
 *  only for changes an older reader cannot read; appending schema fields does not bump it. */
#define FBS_FORMAT_VERSION 1u

/** Slice length meaning "absent" (inputs); also "unknown" for offsets/indices in `fbs_error`. */
#define FBS_ABSENT 0xFFFFFFFFFFFFFFFFull
#define FBS_NO_OFFSET 0xFFFFFFFFFFFFFFFFull
#define FBS_NO_INDEX 0xFFFFFFFFFFFFFFFFull

/** Snapshot and summary FlatBuffers are strictly smaller than this (2^31 - 1, the FlatBuffers
 *  limit): verify refuses len >= FBS_MAX_BUFFER_SIZE, encoders refuse to produce one. */
#define FBS_MAX_BUFFER_SIZE 0x7FFFFFFFull
/** Largest journal record payload (the FlatBuffer inside one frame), in bytes: 1 GiB. */
#define FBS_MAX_RECORD_SIZE 0x40000000u
/** Size of the journal file header, in bytes. Frames start right after it. */
#define FBS_JOURNAL_HEADER_SIZE 24u
/** Size of a frame header (uint32 length + uint32 CRC32C), in bytes. */
#define FBS_FRAME_HEADER_SIZE 8u
/** Every frame's total size is a multiple of this; frames start at multiples of it. */
#define FBS_FRAME_ALIGNMENT 8u

/* ---------------------------------------------------------------------------------------------
 * Codes and enums (numeric values are stable: they are part of the format or the API)
 * ------------------------------------------------------------------------------------------- */

typedef enum fbs_code {
    FBS_OK = 0,
    FBS_ERR_INVALID_ARGUMENT = 1,   /* NULL pointer, bad count, output too small */
    FBS_ERR_OUT_OF_MEMORY = 2,      /* allocation failed (std::bad_alloc caught) */
    FBS_ERR_INTERNAL = 3,           /* any other unexpected C++ exception (a bug) */
    FBS_ERR_ARENA_RANGE = 4,        /* an input slice lies outside the arena */
    FBS_ERR_TOO_LARGE = 5,          /* input or result exceeds FBS_MAX_BUFFER_SIZE / FBS_MAX_RECORD_SIZE */
    FBS_ERR_DUPLICATE_KEY = 6,      /* two data entries with the same key */
    FBS_ERR_EMPTY = 7,              /* zero-length buffer */
    FBS_ERR_MISALIGNED = 8,         /* buffer pointer not 8-byte aligned */
    FBS_ERR_TRUNCATED = 9,          /* shorter than the smallest valid object */
    FBS_ERR_BAD_IDENTIFIER = 10,    /* FlatBuffers file_identifier is not the expected one */
    FBS_ERR_VERIFY = 11,            /* the FlatBuffers Verifier rejected the structure */
    FBS_ERR_BAD_ENUM = 12,          /* an enum field holds a value outside its declared range */
    FBS_ERR_MISSING_FIELD = 13,     /* a field this format requires is absent */
    FBS_ERR_BAD_UTF8 = 14,          /* a string is not valid UTF-8 */
    FBS_ERR_UNSORTED_KEYS = 15,     /* snapshot data entries not strictly ascending by key bytes */
    FBS_ERR_INCONSISTENT = 16,      /* fields contradict each other (e.g. summary counts) */
    FBS_ERR_UNSUPPORTED_VERSION = 17, /* format_version is 0 or newer than FBS_FORMAT_VERSION */
    FBS_ERR_BAD_MAGIC = 18,         /* journal file header magic is not "FLWJ" */
    FBS_ERR_BAD_CHECKSUM = 19,      /* CRC32C mismatch (journal header or frame) */
    FBS_ERR_OUT_OF_RANGE = 20,      /* first + count beyond the vector being read */
    FBS_ERR_BAD_LENGTH = 21,        /* frame length below the minimum or above FBS_MAX_RECORD_SIZE */
    FBS_ERR_TORN_TAIL = 22,         /* the buffer ends inside a frame (or in zero fill) */
    FBS_ERR_BAD_PADDING = 23        /* a frame's padding bytes are not zero */
} fbs_code;

/** flow.fb.NodeStatus */
typedef enum fbs_node_status {
    FBS_NODE_PENDING = 0,
    FBS_NODE_RUNNING = 1,
    FBS_NODE_COMPLETED = 2,
    FBS_NODE_FAILED = 3,
    FBS_NODE_SKIPPED = 4,
    FBS_NODE_CANCELLED = 5,
    FBS_NODE_WAITING = 6,
    FBS_NODE_BYPASSED = 7,
    FBS_NODE_INTERRUPTED = 8,
    FBS_NODE_COMPENSATED = 9,
    FBS_NODE_COMPENSATION_FAILED = 10
} fbs_node_status;

/** flow.fb.WorkflowStatus */
typedef enum fbs_workflow_status {
    FBS_WORKFLOW_PENDING = 0,
    FBS_WORKFLOW_RUNNING = 1,
    FBS_WORKFLOW_COMPLETED = 2,
    FBS_WORKFLOW_FAILED = 3,
    FBS_WORKFLOW_CANCELLED = 4,
    FBS_WORKFLOW_WAITING = 5,
    FBS_WORKFLOW_INTERRUPTED = 6,
    FBS_WORKFLOW_COMPENSATED = 7,
    FBS_WORKFLOW_COMPENSATION_FAILED = 8
} fbs_workflow_status;

/** flow.fb.EventKind */
typedef enum fbs_event_kind {
    FBS_EVENT_WORKFLOW_STARTED = 0,
    FBS_EVENT_NODE_STARTED = 1,
    FBS_EVENT_NODE_COMPLETED = 2,
    FBS_EVENT_NODE_FAILED = 3,
    FBS_EVENT_NODE_RETRIED = 4,
    FBS_EVENT_NODE_SKIPPED = 5,
    FBS_EVENT_NODE_CANCELLED = 6,
    FBS_EVENT_NODE_RESET = 7,
    FBS_EVENT_DATA_SET = 8,
    FBS_EVENT_WORKFLOW_FINISHED = 9,
    FBS_EVENT_NODE_MARKED_COMPLETED = 10,
    FBS_EVENT_NODE_INTERRUPTED = 11,
    FBS_EVENT_NODE_CRASHED = 12
} fbs_event_kind;

/** What `fbs_identify` recognised. */
typedef enum fbs_file_kind {
    FBS_FILE_UNKNOWN = 0,
    FBS_FILE_SNAPSHOT = 1,   /* raw Snapshot FlatBuffer ("FLWS" at offset 4) */
    FBS_FILE_SUMMARY = 2,    /* raw Summary FlatBuffer ("FLWM" at offset 4) */
    FBS_FILE_JOURNAL = 3,    /* journal file ("FLWJ" magic at offset 0) */
    FBS_FILE_ZSTD = 4        /* a zstd frame (e.g. snapshot.fb.zst): decompress, then identify */
} fbs_file_kind;

/* ---------------------------------------------------------------------------------------------
 * Common types
 * ------------------------------------------------------------------------------------------- */

/** Error detail. `message` is NUL-terminated UTF-8. */
typedef struct fbs_error {
    fbs_code code;
    uint32_t reserved;
    uint64_t offset;     /* byte offset in the buffer where the problem is, or FBS_NO_OFFSET */
    uint64_t index;      /* node / data entry / record index, or FBS_NO_INDEX */
    char message[200];
} fbs_error;

/** Input: bytes [offset, offset + length) of the arena; length FBS_ABSENT = absent. */
typedef struct fbs_slice {
    uint64_t offset;
    uint64_t length;
} fbs_slice;

/** Output view into a decoded buffer; data == NULL = absent. */
typedef struct fbs_view {
    const void *data;
    size_t length;
} fbs_view;

/** An encoder's result. Owns `data` (8-byte aligned, `size` bytes) until fbs_buffer_free. */
typedef struct fbs_buffer {
    void *data;
    size_t size;
    void *opaque;
} fbs_buffer;

/** Releases an encoder's result and zeroes `*buffer`. NULL and an already-freed (zeroed)
 *  buffer are fine. */
void fbs_buffer_free(fbs_buffer *buffer);

/** FBS_FORMAT_VERSION, for callers that cannot see macros. */
uint32_t fbs_format_version(void);

/** A static, human-readable description of a code (e.g. "FlatBuffers verifier rejected the buffer"). */
const char *fbs_code_description(fbs_code code);

/** CRC32C (Castagnoli, reflected polynomial 0x82F63B78, init and final XOR 0xFFFFFFFF).
 *  `seed` is a previous result to continue from (0 to start): fbs_crc32c(b, n, fbs_crc32c(a, m, 0))
 *  equals the CRC of a followed by b. fbs_crc32c("123456789", 9, 0) == 0xE3069283.
 *  Uses SSE4.2 when the CPU has it, a table otherwise. */
uint32_t fbs_crc32c(const void *data, size_t length, uint32_t seed);

/** Recognises a file from its first bytes (needs at least 8; returns FBS_FILE_UNKNOWN otherwise). */
fbs_file_kind fbs_identify(const void *buf, size_t len);

/* ---------------------------------------------------------------------------------------------
 * Snapshot (Schemas/workflow.fbs, root flow.fb.Snapshot, identifier "FLWS")
 * ------------------------------------------------------------------------------------------- */

typedef struct fbs_node_in {
    fbs_slice name;              /* required */
    fbs_slice error;             /* FBS_ABSENT = no error */
    fbs_slice output;            /* FBS_ABSENT = no output; length 0 = empty output */
    int64_t started_at_us;       /* used only when has_started_at != 0 */
    int64_t ended_at_us;         /* used only when has_ended_at != 0 */
    uint32_t attempts;
    fbs_node_status status;
    uint8_t has_started_at;
    uint8_t has_ended_at;
    uint8_t reserved[6];
} fbs_node_in;

/** flow.fb.NodeBudget: how much of a node's retry budget is used. */
typedef struct fbs_node_budget {
    uint32_t counted;            /* attempts counted against maxAttempts since reset/completion */
    uint32_t crashed;            /* of those, attempts a crash cut short */
    uint8_t open;                /* the latest attempt started and has not ended */
    uint8_t reserved[3];
} fbs_node_budget;

/** flow.fb.Edge: node `node` depends on node `dependency` (indices into the snapshot's nodes). */
typedef struct fbs_edge {
    uint32_t node;
    uint32_t dependency;
} fbs_edge;

typedef struct fbs_kv_in {
    fbs_slice key;               /* required; unique */
    fbs_slice value;             /* FBS_ABSENT = absent; length 0 = empty */
} fbs_kv_in;

typedef struct fbs_snapshot_in {
    const void *arena;           /* may be NULL when every slice is absent or empty */
    size_t arena_len;
    fbs_slice id;                /* required */
    fbs_slice tenant;            /* required (may be empty) */
    fbs_slice fingerprint;       /* required (may be empty) */
    fbs_slice input;             /* optional blob */
    fbs_slice definition;        /* optional blob (e.g. the workflow's definition file) */
    int64_t created_at_us;
    int64_t updated_at_us;
    uint64_t last_sequence;
    fbs_workflow_status status;
    uint32_t threads;            /* 0 or 1: encode on the calling thread; more: up to this many
                                    threads for a large node list (same bytes either way) */
    const fbs_node_in *nodes;    /* node_count entries, stored in this order */
    size_t node_count;
    const fbs_kv_in *data;       /* data_count entries in any order; stored sorted by key bytes */
    size_t data_count;
    void *scratch;               /* optional: memory (8-aligned) the encoder may build in; when the
                                    snapshot fits, the result points into it and owns nothing */
    size_t scratch_len;
    fbs_slice reason;            /* FBS_ABSENT = none; UTF-8 */
    uint32_t recoveries;
    uint32_t reserved2;
    const fbs_node_budget *budgets; /* budget_count entries: 0 (absent) or node_count */
    size_t budget_count;
    const fbs_edge *edges;       /* edge_count entries, stored in this order: grouped by node
                                    ascending, no duplicate, no node depending on itself */
    size_t edge_count;
    uint8_t has_edges;           /* 0: the DAG's shape is absent (edges ignored); 1: present,
                                    even with edge_count 0 */
    uint8_t reserved3[7];
} fbs_snapshot_in;

typedef struct fbs_snapshot_view {
    uint32_t format_version;
    fbs_workflow_status status;
    int64_t created_at_us;
    int64_t updated_at_us;
    uint64_t last_sequence;
    fbs_view id;
    fbs_view tenant;
    fbs_view fingerprint;
    fbs_view input;
    fbs_view definition;
    size_t node_count;
    size_t data_count;
    fbs_view reason;
    uint32_t recoveries;
    uint32_t reserved2;
    size_t budget_count;         /* 0 (absent) or node_count */
    size_t edge_count;           /* meaningful only when has_edges != 0 */
    uint8_t has_edges;           /* the DAG's shape is stored (Snapshot.edges present) */
    uint8_t reserved3[7];
} fbs_snapshot_view;

typedef struct fbs_node_view {
    fbs_view name;
    fbs_view error;
    fbs_view output;
    int64_t started_at_us;       /* meaningful only when has_started_at != 0 */
    int64_t ended_at_us;         /* meaningful only when has_ended_at != 0 */
    uint32_t attempts;
    fbs_node_status status;
    uint8_t has_started_at;
    uint8_t has_ended_at;
    uint8_t reserved[6];
} fbs_node_view;

typedef struct fbs_kv_view {
    fbs_view key;
    fbs_view value;
} fbs_kv_view;

/** Builds a Snapshot FlatBuffer (format_version = FBS_FORMAT_VERSION). Validates slices, enum
 *  ranges, UTF-8 and key uniqueness; sorts data by key. On success `*out` holds the bytes: in
 *  `scratch` when they fit there (valid while it is; fbs_buffer_free is then a no-op), else
 *  owned by `*out`. arena_len + 96 * node_count + 128 * data_count + 12 * budget_count + 8 * edge_count + 4096
 *  bytes is always enough. */
fbs_code fbs_snapshot_encode(const fbs_snapshot_in *in, fbs_buffer *out, fbs_error *err);

/** Full check of an untrusted Snapshot buffer: size (0 < len < FBS_MAX_BUFFER_SIZE), alignment, identifier,
 *  FlatBuffers Verifier, format_version, required fields, enum ranges, UTF-8 of strings, keys
 *  strictly ascending, edges within the nodes, grouped by node, without self-edges or duplicates. FBS_OK means the read functions below are safe on this buffer. */
fbs_code fbs_snapshot_verify(const void *buf, size_t len, fbs_error *err);

/** fbs_snapshot_verify in parts, so that the nodes can be checked on several threads: the root
 *  (everything but the Node tables), then the Node tables [first, first + count) with their
 *  statuses and UTF-8. After verify_root, read_header and read_data are safe; read_nodes is safe
 *  on a range once verify_nodes accepted it. verify_nodes on a buffer that did not pass
 *  verify_root is undefined behaviour. */
fbs_code fbs_snapshot_verify_root(const void *buf, size_t len, fbs_error *err);
fbs_code fbs_snapshot_verify_nodes(const void *buf, size_t len, size_t first, size_t count, fbs_error *err);

/** Scalars, strings and blobs of a verified snapshot, plus the node and data counts. */
fbs_code fbs_snapshot_read_header(const void *buf, fbs_snapshot_view *out);

/** Nodes [first, first + count) of a verified snapshot into out[0..count). */
fbs_code fbs_snapshot_read_nodes(const void *buf, size_t first, size_t count, fbs_node_view *out);

/** Node budgets [first, first + count) of a verified snapshot into out[0..count). */
fbs_code fbs_snapshot_read_budgets(const void *buf, size_t first, size_t count, fbs_node_budget *out);

/** Edges [first, first + count) of a verified snapshot (the DAG's shape) into out[0..count). */
fbs_code fbs_snapshot_read_edges(const void *buf, size_t first, size_t count, fbs_edge *out);

/** Data entries [first, first + count) (sorted by key) of a verified snapshot. */
fbs_code fbs_snapshot_read_data(const void *buf, size_t first, size_t count, fbs_kv_view *out);

/* ---------------------------------------------------------------------------------------------
 * Summary (Schemas/summary.fbs, root flow.fb.Summary, identifier "FLWM")
 * ------------------------------------------------------------------------------------------- */

typedef struct fbs_summary_in {
    const void *arena;
    size_t arena_len;
    fbs_slice id;                /* required */
    fbs_slice tenant;            /* required (may be empty) */
    fbs_slice fingerprint;       /* required (may be empty) */
    int64_t created_at_us;
    int64_t updated_at_us;
    uint64_t last_sequence;
    uint64_t snapshot_bytes;     /* size of the snapshot file it summarises */
    fbs_workflow_status status;
    uint32_t node_count;         /* must equal the sum of the eleven counts below */
    uint32_t pending;
    uint32_t running;
    uint32_t completed;
    uint32_t failed;
    uint32_t skipped;
    uint32_t cancelled;
    uint32_t waiting;
    uint32_t bypassed;
    uint32_t interrupted;
    uint32_t compensated;
    uint32_t compensation_failed;
    fbs_slice reason;            /* FBS_ABSENT = none; UTF-8 */
} fbs_summary_in;

typedef struct fbs_summary_view {
    uint32_t format_version;
    fbs_workflow_status status;
    fbs_view id;
    fbs_view tenant;
    fbs_view fingerprint;
    int64_t created_at_us;
    int64_t updated_at_us;
    uint64_t last_sequence;
    uint64_t snapshot_bytes;
    uint32_t node_count;
    uint32_t pending;
    uint32_t running;
    uint32_t completed;
    uint32_t failed;
    uint32_t skipped;
    uint32_t cancelled;
    uint32_t reserved;
    uint32_t waiting;
    uint32_t bypassed;
    uint32_t interrupted;
    uint32_t compensated;
    uint32_t compensation_failed;
    uint32_t reserved2;
    fbs_view reason;
} fbs_summary_view;

fbs_code fbs_summary_encode(const fbs_summary_in *in, fbs_buffer *out, fbs_error *err);
/** Same checks as fbs_snapshot_verify, plus: the eleven counts add up to node_count. */
fbs_code fbs_summary_verify(const void *buf, size_t len, fbs_error *err);
fbs_code fbs_summary_read(const void *buf, fbs_summary_view *out);

/* ---------------------------------------------------------------------------------------------
 * Journal (Schemas/journal.fbs, root flow.fb.Record, identifier "FLWJ")
 *
 * File: a 24-byte header, then frames. Frame = uint32 LE payload length L, uint32 LE CRC32C of
 * the L payload bytes, the payload (one Record FlatBuffer), then zero padding up to a multiple of
 * 8 bytes. Neither the length nor the CRC covers the padding or the frame header.
 * ------------------------------------------------------------------------------------------- */

typedef struct fbs_journal_header {
    uint32_t format_version;
    uint32_t reserved;
    uint64_t base_sequence;      /* the journal holds records with sequence > base_sequence */
} fbs_journal_header;

/** Writes the FBS_JOURNAL_HEADER_SIZE-byte file header (format FBS_FORMAT_VERSION) to `out`. */
fbs_code fbs_journal_header_encode(uint64_t base_sequence, void *out, size_t out_len);

/** Parses and checks a file header: length, magic, CRC, version. */
fbs_code fbs_journal_header_parse(const void *buf, size_t len, fbs_journal_header *out, fbs_error *err);

typedef struct fbs_record_in {
    uint64_t sequence;
    int64_t time_us;
    int64_t delay_us;
    fbs_slice node;              /* FBS_ABSENT = none */
    fbs_slice error;             /* FBS_ABSENT = none */
    fbs_slice key;               /* FBS_ABSENT = none */
    fbs_slice payload;           /* FBS_ABSENT = none; length 0 = empty payload */
    int32_t node_index;          /* -1 = none */
    uint32_t attempt;
    fbs_event_kind kind;
    fbs_workflow_status workflow_status;
} fbs_record_in;

typedef struct fbs_record_view {
    uint64_t frame_offset;       /* offset of this frame's header from the scanned buffer's start */
    uint64_t frame_size;         /* header + payload + padding */
    uint64_t sequence;
    int64_t time_us;
    int64_t delay_us;
    fbs_view node;
    fbs_view error;
    fbs_view key;
    fbs_view payload;
    int32_t node_index;
    uint32_t attempt;
    fbs_event_kind kind;
    fbs_workflow_status workflow_status;
} fbs_record_view;

/** Encodes `count` records as consecutive frames, ready to append at an 8-aligned file offset. */
fbs_code fbs_records_encode(const fbs_record_in *records, size_t count, const void *arena,
                            size_t arena_len, fbs_buffer *out, fbs_error *err);

/** Why fbs_records_scan stopped. */
typedef enum fbs_scan_stop {
    FBS_SCAN_END = 0,            /* the buffer ends exactly after the last frame: all clean */
    FBS_SCAN_FULL = 1,           /* `capacity` views filled; scan again from buf + consumed */
    FBS_SCAN_TORN_TAIL = 2,      /* the last frame is incomplete, or the rest is zero fill */
    FBS_SCAN_BAD_LENGTH = 3,     /* a frame's length is impossible */
    FBS_SCAN_BAD_CHECKSUM = 4,   /* a complete frame's CRC32C does not match */
    FBS_SCAN_BAD_PADDING = 5,    /* a frame's padding is not zero */
    FBS_SCAN_BAD_RECORD = 6      /* CRC matches but the Record fails verification */
} fbs_scan_stop;

typedef struct fbs_scan_result {
    size_t count;                /* views filled (or, with out == NULL, good frames seen) */
    uint64_t consumed;           /* bytes of complete good frames from buf; the next frame starts here */
    uint64_t bad_offset;         /* offset of the frame that stopped the scan (== consumed), or
                                    FBS_NO_OFFSET for FBS_SCAN_END / FBS_SCAN_FULL */
    fbs_scan_stop stop;
    uint32_t reserved;
    fbs_error error;             /* detail for the stop reasons other than END and FULL */
} fbs_scan_result;

/** Walks frames from `buf` (8-aligned, starting on a frame boundary — i.e. the journal file
 *  after its header), checking each frame's length bounds, CRC, zero padding, then the Record
 *  (identifier, Verifier, enum ranges, UTF-8), and fills `out` with zero-copy views until
 *  `capacity` views, the end, or the first bad frame. With `out == NULL` it only validates and
 *  counts all frames (capacity ignored). Returns FBS_OK whenever the scan ran (the outcome is in
 *  `*result`), an error code only for invalid arguments or a misaligned buffer. */
fbs_code fbs_records_scan(const void *buf, size_t len, fbs_record_view *out, size_t capacity,
                          fbs_scan_result *result);

#ifdef __cplusplus
}
#endif

#endif /* FBSCHEMA_H */
