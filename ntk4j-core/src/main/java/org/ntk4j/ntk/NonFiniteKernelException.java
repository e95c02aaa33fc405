package org.ntk4j.ntk;

/**
 * A kernel (or a block of one) that holds NaN or ±∞ although its inputs and parameters are finite: the network's
 * outputs or their derivatives are not finite at those inputs. It is a property of the problem, not of the run:
 * computing it again, or resuming a tiled run of it, fails the same way, so a tiled run's unfinished files are of no
 * use (the command line removes them).
 */
public final class NonFiniteKernelException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /**
     * A refusal with its one-line message.
     *
     * @param message what was found and what to change
     */
    public NonFiniteKernelException(String message) {
        super(message);
    }
}
