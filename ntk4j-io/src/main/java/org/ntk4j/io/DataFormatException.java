package org.ntk4j.io;

import java.io.IOException;

/**
 * A data file (IDX, CSV) that cannot be read as given: the message starts with the file and says what is
 * wrong and, where it helps, what was expected. {@code .npy}/{@code .npz} problems are the sibling
 * {@link NpyFormatException}. The message is one line: line breaks in it are written as backslash-n/-r.
 */
public class DataFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    /**
     * An exception with the given message.
     *
     * @param message what is wrong, starting with the file
     */
    public DataFormatException(String message) {
        super(oneLine(message));
    }

    /**
     * An exception with the given message and cause.
     *
     * @param message what is wrong, starting with the file
     * @param cause the underlying error (a parse failure, say); may be null
     */
    public DataFormatException(String message, Throwable cause) {
        super(oneLine(message), cause);
    }

    /**
     * The message on one line: a CSV cell or header (quoted, it may hold line breaks) or a parser's message quoting
     * one is echoed into it, and a command prints the message as its one line of error.
     */
    static String oneLine(String message) {
        return message == null ? null : message.replace("\r", "\\r").replace("\n", "\\n");
    }
}
