"""Training several trials as one wide model: which trials pack (``plan``), and two exact
packings (``grouped`` convolutions for sequential CNNs, ``vmap`` over stacked parameters)."""
