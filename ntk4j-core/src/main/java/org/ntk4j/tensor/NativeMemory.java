package org.ntk4j.tensor;

/**
 * JavaCPP's settings for ntk4j's off-heap memory, applied before JavaCPP's {@code Pointer} class initialises.
 *
 * <p>JavaCPP checks, on every allocation of native memory, the process's resident size against
 * {@code org.bytedeco.javacpp.maxPhysicalBytes} (by default its maxBytes plus three times the heap), reading
 * {@code /proc/self/statm} with a system call each time; above it, it runs the garbage collector and sleeps before
 * it throws. ntk4j frees every tensor when it is closed (not by the collector), plans its peaks against its own
 * memory budget, and keeps JavaCPP's maxBytes limit on what it allocates ({@link StoragePool} stays under it); the
 * check only cost time: 1.67 µs for each tensor below the pool's 1 MiB, 0.42 µs without it (a small kernel makes
 * dozens a call: the FCN example at W = 512, 1.41–1.66 → 1.37–1.46 ms, three rounds interleaved on a noisy
 * machine). So ntk4j sets {@code maxPhysicalBytes} to 0 (no check) unless
 * the property is already set — a user who wants the check sets it, e.g.
 * {@code -Dorg.bytedeco.javacpp.maxPhysicalBytes=20g}. Where another library has initialised JavaCPP first, its
 * settings stay. ntk4j code that reads JavaCPP's limit before it has made a tensor (a model's size check at
 * {@code init}, the default memory budget) reads it through {@link #maxBytes}, so that it does not initialise
 * JavaCPP before these settings: a program's usual first steps, {@code Zoo.parse(...).init(...)}, did so and left
 * the check on for the whole JVM.
 */
public final class NativeMemory {
    private static final String MAX_PHYSICAL = "org.bytedeco.javacpp.maxPhysicalBytes";

    static {
        // JavaCPP reads the lower-case spelling first, then this one
        if (System.getProperty(MAX_PHYSICAL.toLowerCase(java.util.Locale.ROOT)) == null
                && System.getProperty(MAX_PHYSICAL) == null) {
            System.setProperty(MAX_PHYSICAL, "0");
        }
    }

    private NativeMemory() {
    }

    /**
     * Applies the settings (once; later calls do nothing). Called by the classes that allocate native memory or
     * load the native libraries, before either.
     */
    public static void configure() {
        // the class's initialiser did the work
    }

    /**
     * JavaCPP's limit on off-heap memory ({@code Pointer.maxBytes()}), read after the settings are applied: the
     * way for code that may run before any tensor exists to read it.
     *
     * @return the limit in bytes (0 or less: none)
     */
    public static long maxBytes() {
        return org.bytedeco.javacpp.Pointer.maxBytes();
    }
}
