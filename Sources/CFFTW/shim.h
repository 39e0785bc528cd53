// Why: FFTW3 is the FFT of the harmonic analysis (IEC 61000-4-7 DFT of each basic window); the shim only
// brings its header in as a Clang module. Plans are created under one lock in SynxDSP because FFTW's planner
// is not thread-safe, while executing an existing plan on new arrays is.
#include <fftw3.h>
