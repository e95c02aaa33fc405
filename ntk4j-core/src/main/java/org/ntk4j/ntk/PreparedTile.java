package org.ntk4j.ntk;

import org.ntk4j.tensor.CachedTensors;
import org.ntk4j.tensor.Tensor;

/**
 * The work of one tile of examples that every block of its row (or column) of the kernel shares,
 * computed once by {@link EmpiricalNtk#prepare}: for Jacobian contraction and structured derivatives the forward pass
 * and the backward pass with O stacked cotangents (the N·O·[FP] part of their cost, read at every
 * parameter consumer); for projected:K the tile's sketched Jacobian [n, O, K]; for NTK-vector products,
 * whose work is all per block, only the examples. Holds native memory until closed; the examples tensor
 * is not copied and must stay open while the tile is in use. While a tile is open, the plans that the kernel
 * caches drop are closed only once it is closed ({@link CachedTensors}): close tiles when done with them.
 */
public final class PreparedTile implements AutoCloseable {
    private final EmpiricalNtk owner;
    private final Tensor x;
    private final PerExamplePass pass;
    private final Tensor sketched;
    /** Keeps the cached plans this tile's work reads open until the tile is closed ({@link CachedTensors}). */
    private final CachedTensors.Lease lease;
    private volatile boolean closed;

    PreparedTile(EmpiricalNtk owner, Tensor x, PerExamplePass pass, Tensor sketched, CachedTensors.Lease lease) {
        this.lease = lease;
        this.owner = owner;
        this.x = x;
        this.pass = pass;
        this.sketched = sketched;
    }

    /**
     * Number of examples of the tile.
     *
     * @return the tile's n
     */
    public int examples() {
        return x.dim(0);
    }

    /**
     * Native bytes the prepared work holds (not counting the examples).
     *
     * @return bytes of the stored passes or sketch; 0 for NTK-vector products
     */
    public long bytes() {
        return (pass != null ? pass.bytes() : 0) + (sketched != null ? sketched.bytes() : 0);
    }

    EmpiricalNtk owner() {
        return owner;
    }

    Tensor x() {
        return x;
    }

    PerExamplePass pass() {
        return pass;
    }

    Tensor sketched() {
        return sketched;
    }

    /** Whether {@link #close()} has run. */
    boolean isClosed() {
        return closed;
    }

    /** Releases the prepared work. Idempotent. */
    @Override
    public void close() {
        closed = true;
        if (pass != null) {
            pass.close();
        }
        if (sketched != null) {
            sketched.close();
        }
        lease.close();
    }
}
