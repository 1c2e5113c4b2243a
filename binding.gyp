# node-gyp build of our own C kernels (native/): one addon, build/Release/scaling_lab_native.node.
# AVX2/FMA code is confined to native/kernels_avx2.c by a target pragma and chosen at load time by CPUID,
# so no -march flag is needed and one build runs on older x86-64 CPUs. No -ffast-math (see kernels_impl.h).
{
  "targets": [
    {
      "target_name": "scaling_lab_native",
      "sources": [
        "native/addon.c",
        "native/pool.c",
        "native/kernels_avx2.c",
        "native/kernels_base.c"
      ],
      "cflags": ["-O3", "-std=gnu11", "-fno-math-errno", "-pthread", "-Wall", "-Wno-unused-function"],
      "cflags!": ["-O2", "-O0", "-O1", "-Os"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "OTHER_CFLAGS": ["-O3", "-std=gnu11", "-fno-math-errno"]
      }
    }
  ]
}
