package org.ntk4j.ntk;

/**
 * Splitting a batch of items (examples, basis vectors) into the fewest near-equal contiguous tiles such that a
 * tensor of {@code bytesPerItem} bytes per item stays within a byte limit. The methods tile only where a single
 * tensor would otherwise pass {@link #MAX_TENSOR_BYTES} (Java's direct buffers, through which the kernels read
 * elements, stop at 2^31 - 1 bytes); below that they run as one tile, exactly as without tiling.
 */
final class Tiles {
    /** The largest tensor ntk4j can hold: 2^31 - 1 bytes. */
    static final long MAX_TENSOR_BYTES = Integer.MAX_VALUE;

    private Tiles() {
    }

    /**
     * Boundaries b[0] = 0 &lt; b[1] &lt; ... &lt; b[t] = n of the fewest tiles of at most
     * {@code limit / bytesPerItem} items (at least one item per tile), sizes differing by at most one.
     */
    static int[] split(int n, long bytesPerItem, long limit) {
        if (n <= 0) {
            return new int[] {0, Math.max(0, n)};
        }
        long fit = Math.max(1, limit / Math.max(1, bytesPerItem));
        int count = (int) Math.min(n, (n + fit - 1) / fit);
        int[] b = new int[count + 1];
        for (int i = 0; i <= count; i++) {
            b[i] = (int) ((long) n * i / count);
        }
        return b;
    }

    /** Number of tiles of boundaries {@code b}. */
    static int count(int[] b) {
        return b.length - 1;
    }

    /** Size of tile {@code i}. */
    static int size(int[] b, int i) {
        return b[i + 1] - b[i];
    }
}
