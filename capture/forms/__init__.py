"""Forms: definitions as data, their storage, and the hosted pages built from them."""
