/* example.c: a gateway's encoding side in C, and the test of rwsf.h.
 *
 *     cc -std=c99 -Wall -Wextra -Werror -I robotwatch/gateway/c example.c -o example
 *     ./example FRAMES STEPS_PER_FRAME SIGNAL_NAME... > frames.bin
 *
 * Writes FRAMES frames of a made-up robot (seq from 1000, 500 Hz, the action rising through
 * the voraus-AD program, value of signal j at step i = ((i * 131 + j * 7) % 1000) / 7.0),
 * each as a 4-byte little-endian length and the frame, where a real gateway would hand the
 * frame to its Kafka producer keyed by the robot id.
 */
#include <stdio.h>
#include <stdlib.h>

#include "rwsf.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s FRAMES STEPS_PER_FRAME SIGNAL_NAME...\n", argv[0]);
        return 2;
    }
    uint32_t frames = (uint32_t)strtoul(argv[1], NULL, 10), steps = (uint32_t)strtoul(argv[2], NULL, 10);
    uint16_t n_signals = (uint16_t)(argc - 3);
    size_t capacity = rwsf_frame_size(steps, n_signals);
    uint8_t *buf = malloc(capacity), *action = malloc(steps), *active = malloc(steps);
    float *values = malloc(sizeof(float) * steps * n_signals);
    if (!buf || !action || !active || !values) return 1;

    rwsf_frame_info info = {0};
    info.signal_list_id = rwsf_signal_list_id((const char *const *)argv + 3, n_signals);
    info.sample_rate_hz = 500.0f;
    for (uint32_t f = 0; f < frames; f++) {
        uint64_t seq = 1000u + (uint64_t)f * steps;
        info.seq = seq;
        info.time_ns = 1764331200000000000LL + (int64_t)seq * 2000000LL;
        info.has_cycle = 1;
        info.cycle = (int64_t)f / 4;
        info.cycle_start = f % 4 == 0;
        for (uint32_t i = 0; i < steps; i++) {
            uint64_t step = seq + i;
            action[i] = (uint8_t)((f % 4) * 3 + i * 3 / steps); /* codes 0..11 */
            active[i] = action[i] % 2;
            for (uint16_t j = 0; j < n_signals; j++)
                values[(size_t)i * n_signals + j] = (float)((double)((step * 131u + j * 7u) % 1000u) / 7.0);
        }
        size_t n = rwsf_encode(buf, capacity, &info, steps, n_signals, action, active, values);
        if (!n) return 1;
        uint8_t len[4];
        rwsf_put32(len, (uint32_t)n);
        fwrite(len, 1, 4, stdout);
        fwrite(buf, 1, n, stdout);
    }
    free(buf);
    free(action);
    free(active);
    free(values);
    return 0;
}
