package org.ntk4j.ntk;

import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * A value of each side of a kernel, x1 and x2 (a pass, a Jacobian, a prepared tile): computed once when x2 = x1,
 * where {@link #second()} is {@link #first()} itself, and closed once: {@link #close()} closes the first and then
 * the second only if it is another object. Replaces the "{@code same ? a : b}" pairs with alias-aware closing.
 *
 * @param <T> the value's type
 */
final class Sides<T> implements AutoCloseable {
    private final T first;
    private final T second;
    private final Consumer<? super T> closer;

    private Sides(T first, T second, Consumer<? super T> closer) {
        this.first = first;
        this.second = second;
        this.closer = closer;
    }

    /**
     * Computes x1's value, then x2's unless {@code same}; if x2's throws, x1's is closed before the exception
     * propagates, so nothing leaks.
     *
     * @param same whether x2 = x1 (the second value is the first)
     * @param one computes x1's value
     * @param two computes x2's value (not called when {@code same})
     * @param closer closes one value (null values are not passed to it)
     * @param <T> the value's type
     * @return both values, owned by the caller
     */
    static <T> Sides<T> of(boolean same, Supplier<? extends T> one, Supplier<? extends T> two,
                           Consumer<? super T> closer) {
        T a = one.get();
        if (same) {
            return new Sides<>(a, a, closer);
        }
        T b;
        try {
            b = two.get();
        } catch (RuntimeException | Error e) {
            if (a != null) {
                closer.accept(a);
            }
            throw e;
        }
        return new Sides<>(a, b, closer);
    }

    /** @return x1's value */
    T first() {
        return first;
    }

    /** @return x2's value: {@link #first()} itself when x2 = x1 */
    T second() {
        return second;
    }

    /** Closes x1's value, then x2's if it is another object. */
    @Override
    public void close() {
        try {
            if (first != null) {
                closer.accept(first);
            }
        } finally {
            if (second != null && second != first) {
                closer.accept(second);
            }
        }
    }
}
