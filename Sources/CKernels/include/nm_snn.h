/* SNN engine: see snn_engine.c */
#ifndef NM_SNN_H
#define NM_SNN_H
#include <stdint.h>
#endif
