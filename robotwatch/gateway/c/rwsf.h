/* rwsf.h: encode robotwatch signal frames (version 1) in C. Header only, C99, no allocation.
 *
 * The layout is in docs/signal-frames.md; every number is written little-endian byte by
 * byte, so the output is the same on any host. Typical use beside a controller:
 *
 *     const char *names[] = {"robot_voltage", "robot_current", ...};
 *     rwsf_frame_info info = {0};
 *     info.signal_list_id = rwsf_signal_list_id(names, n_signals);
 *     info.sample_rate_hz = 500.0f;
 *     info.seq = first_step_counter;
 *     info.time_ns = controller_time_ns_of_first_step;
 *     info.cycle_start = this_frame_begins_a_cycle;
 *     size_t n = rwsf_encode(buf, sizeof buf, &info, n_steps, n_signals, action, active, values);
 *     if (n) produce(topic, key = robot_id, buf, n);      -- librdkafka, acks=all
 *
 * `values` is step-major: values[i * n_signals + j] is signal j at step i.
 * A frame holds consecutive steps of one cycle: cut it where seq jumps or a cycle starts.
 */
#ifndef RWSF_H
#define RWSF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RWSF_VERSION 1u
#define RWSF_HEADER_SIZE 48u
#define RWSF_FLAG_CYCLE 1u       /* `cycle` holds the controller's cycle counter */
#define RWSF_FLAG_CYCLE_START 2u /* step 0 is the first step of a cycle */
#define RWSF_MAX_STEPS 100000u
#define RWSF_MAX_SIGNALS 4096u

typedef struct {
    uint32_t signal_list_id; /* rwsf_signal_list_id() of the ordered signal names */
    float sample_rate_hz;
    uint64_t seq;            /* the controller's step counter of step 0 */
    int64_t time_ns;         /* the controller's clock at step 0 */
    int has_cycle;           /* nonzero: `cycle` is valid */
    int64_t cycle;
    int cycle_start;         /* nonzero: step 0 starts a cycle */
} rwsf_frame_info;

/* CRC-32 as zlib computes it (pass 0 to start, the previous result to continue). */
static inline uint32_t rwsf_crc32(uint32_t crc, const void *data, size_t n) {
    const uint8_t *p = (const uint8_t *)data;
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* The id of an ordered signal list: the CRC-32 of the names joined by "\n". */
static inline uint32_t rwsf_signal_list_id(const char *const *names, size_t n) {
    uint32_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) crc = rwsf_crc32(crc, "\n", 1);
        crc = rwsf_crc32(crc, names[i], strlen(names[i]));
    }
    return crc;
}

/* Where the signal matrix starts: after the header and two bytes per step, 4-byte aligned. */
static inline size_t rwsf_matrix_offset(uint32_t n_steps) {
    return ((size_t)RWSF_HEADER_SIZE + 2u * (size_t)n_steps + 3u) & ~(size_t)3u;
}

/* The exact size of a frame in bytes. */
static inline size_t rwsf_frame_size(uint32_t n_steps, uint16_t n_signals) {
    return rwsf_matrix_offset(n_steps) + 4u * (size_t)n_steps * (size_t)n_signals;
}

static inline uint8_t *rwsf_put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static inline uint8_t *rwsf_put32(uint8_t *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k));
    return p + 4;
}

static inline uint8_t *rwsf_put64(uint8_t *p, uint64_t v) {
    for (int k = 0; k < 8; k++) p[k] = (uint8_t)(v >> (8 * k));
    return p + 8;
}

static inline uint8_t *rwsf_putf32(uint8_t *p, float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    return rwsf_put32(p, bits);
}

/* Encode one frame into `out`; returns its size, or 0 when `capacity` is too small or the
 * sizes are out of range (1..100000 steps, 1..4096 signals). Values must be finite and
 * `active` 0 or 1: robotwatch refuses other frames. */
static inline size_t rwsf_encode(uint8_t *out, size_t capacity, const rwsf_frame_info *info,
                                 uint32_t n_steps, uint16_t n_signals, const uint8_t *action,
                                 const uint8_t *active, const float *values) {
    if (n_steps < 1 || n_steps > RWSF_MAX_STEPS || n_signals < 1 || n_signals > RWSF_MAX_SIGNALS) return 0;
    size_t size = rwsf_frame_size(n_steps, n_signals);
    if (capacity < size) return 0;
    uint16_t flags = (uint16_t)((info->has_cycle ? RWSF_FLAG_CYCLE : 0u) |
                                (info->cycle_start ? RWSF_FLAG_CYCLE_START : 0u));
    uint8_t *p = out;
    memcpy(p, "RWSF", 4);
    p = rwsf_put16(p + 4, RWSF_VERSION);
    p = rwsf_put16(p, RWSF_HEADER_SIZE);
    p = rwsf_put32(p, n_steps);
    p = rwsf_put16(p, n_signals);
    p = rwsf_put16(p, flags);
    p = rwsf_put32(p, info->signal_list_id);
    p = rwsf_putf32(p, info->sample_rate_hz);
    p = rwsf_put64(p, info->seq);
    p = rwsf_put64(p, (uint64_t)info->time_ns);
    p = rwsf_put64(p, info->has_cycle ? (uint64_t)info->cycle : 0u);
    memcpy(p, action, n_steps);
    memcpy(p + n_steps, active, n_steps);
    memset(p + 2u * n_steps, 0, rwsf_matrix_offset(n_steps) - RWSF_HEADER_SIZE - 2u * n_steps);
    p = out + rwsf_matrix_offset(n_steps);
    for (size_t i = 0; i < (size_t)n_steps * n_signals; i++) p = rwsf_putf32(p, values[i]);
    return size;
}

#endif /* RWSF_H */
