/* ANN kernels: see ann.c */
#ifndef NM_ANN_H
#define NM_ANN_H
#include <stdint.h>
#endif
