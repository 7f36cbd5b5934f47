/*
 * What the fuzz targets share: the contract checks.
 *
 * A target always fails on a crash, a sanitizer report or a leak.  On top
 * of that it checks what the code promises for bad input (an error names
 * the field and says why, a failed load changes nothing); those checks
 * abort too, unless FUZZ_CONTRACT=0 is set, which leaves only crashes.
 */
#ifndef ESAAS_FUZZ_SUPPORT_H
#define ESAAS_FUZZ_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Read FUZZ_CONTRACT; call from LLVMFuzzerInitialize(). */
void support_init(void);

/* Abort with the message when cond is false and the contract is checked. */
void support_expect(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The libFuzzer entry points, declared for -Wmissing-prototypes. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
