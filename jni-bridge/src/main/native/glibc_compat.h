/*
 * Force-included (-include) into the generated JNI glue so that libjniLlavaKernels.so binds the
 * libdl symbols at their original glibc version: built on a new distro, the glue would otherwise
 * need GLIBC_2.34 (where dlopen & co. moved into libc) and not load on an older GPU machine.
 */
#ifndef LLAVA_GLIBC_COMPAT_H
#define LLAVA_GLIBC_COMPAT_H
#if defined(__linux__) && defined(__x86_64__)
#include <features.h> /* defines __GLIBC__ */
#endif
#if defined(__linux__) && defined(__x86_64__) && defined(__GLIBC__)
__asm__(".symver dlopen,dlopen@GLIBC_2.2.5");
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
__asm__(".symver dlerror,dlerror@GLIBC_2.2.5");
__asm__(".symver dlclose,dlclose@GLIBC_2.2.5");
#endif
#endif
