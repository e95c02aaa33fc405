package org.ntk4j.io;

/**
 * Array assertions of the io tests (ntk4j-core's tests have the same in org.ntk4j.Fixtures; test classes are not
 * shared between modules).
 */
final class ArrayAsserts {
    private ArrayAsserts() {
    }

    /**
     * Asserts two arrays equal element by element (as {@link Double#equals}: NaN equals NaN, 0.0 differs from
     * -0.0). On failure the message is one line: the first differing index, its two values and how many elements
     * differ (or the two lengths), never the whole arrays, which AssertJ's containsExactly prints.
     */
    static void assertSameElements(String what, double[] actual, double[] expected) {
        if (actual.length != expected.length) {
            throw new AssertionError(what + ": length " + actual.length + ", expected " + expected.length);
        }
        int first = -1;
        int count = 0;
        for (int i = 0; i < actual.length; i++) {
            if (Double.compare(actual[i], expected[i]) != 0) {
                first = first < 0 ? i : first;
                count++;
            }
        }
        if (count > 0) {
            throw new AssertionError(what + ": " + count + " of " + actual.length + " elements differ; first at index "
                    + first + ": " + actual[first] + ", expected " + expected[first]);
        }
    }

    /** {@link #assertSameElements(String, double[], double[])} for float arrays (as {@link Float#equals}). */
    static void assertSameElements(String what, float[] actual, float[] expected) {
        if (actual.length != expected.length) {
            throw new AssertionError(what + ": length " + actual.length + ", expected " + expected.length);
        }
        int first = -1;
        int count = 0;
        for (int i = 0; i < actual.length; i++) {
            if (Float.compare(actual[i], expected[i]) != 0) {
                first = first < 0 ? i : first;
                count++;
            }
        }
        if (count > 0) {
            throw new AssertionError(what + ": " + count + " of " + actual.length + " elements differ; first at index "
                    + first + ": " + actual[first] + ", expected " + expected[first]);
        }
    }
}
