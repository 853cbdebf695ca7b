"""The language-model backbone: token ids -> embedding -> stacked unidirectional recurrent layers -> features."""

import keras
from rnnzoo.layers import EmbeddingDropout, LockedDropout, ReversibleEmbedding, recurrent_layer
from rnnzoo.models.backbone import Backbone


@keras.saving.register_keras_serializable(package="rnnzoo")
class LanguageModelBackbone(Backbone):
    """Embedding -> `num_layers` x (vanilla | gru | lstm) -> features, with the known LM regularisers.

    Each recurrent layer returns its sequence and its final state (the state
    outputs are used when the model runs with carried state: `run`, `step`);
    the functional graph keeps the sequence. Dropout sits on the non-recurrent
    connections (Zaremba et al. 2014): on the embeddings, between layers and
    on the last layer's output; `variational_dropout` draws one mask per
    sequence instead of one per step (Gal & Ghahramani 2016, "locked"),
    `embedding_dropout` drops whole words, `recurrent_dropout` the
    hidden-to-hidden connections (Keras' per-sequence masks; it takes the
    slower loop). With `tie_weights` the embedding is a `ReversibleEmbedding`
    the task also projects with; its features are `embedding_dim` wide
    (a `tie_projection` Dense maps `units` to it when they differ).

    Args:
        vocabulary_size: number of ids (0 = padding, 1 = `<unk>`).
        cell: `"vanilla" | "gru" | "lstm"`.
        units: hidden size of each recurrent layer.
        num_layers: number of recurrent layers (the config's `architecture.layers`).
        embedding_dim: embedding size.
        dropout: rate on the embeddings, between layers and on the output.
        variational_dropout: one dropout mask per sequence (locked dropout).
        embedding_dropout: rate of words dropped from the embedding per batch.
        recurrent_dropout: rate on the recurrent connections.
        activation: the vanilla cell's f.
        tie_weights: share the embedding with the output projection.

    Call arguments:
        token_ids: `(batch, time)` int32.

    Returns:
        `(batch, time, feature_dim)` float features (`feature_dim`: `embedding_dim` when tied, else `units`).

    Example:
    >>> import numpy as np
    >>> backbone = LanguageModelBackbone(vocabulary_size=20, cell="gru", units=8, num_layers=2, embedding_dim=6)
    >>> backbone(np.zeros((3, 5), "int32")).shape
    (3, 5, 8)
    """

    def __init__(
        self,
        vocabulary_size,
        cell="lstm",
        units=200,
        num_layers=2,
        embedding_dim=200,
        dropout=0.0,
        variational_dropout=False,
        embedding_dropout=0.0,
        recurrent_dropout=0.0,
        activation="tanh",
        tie_weights=False,
        **kwargs,
    ):
        token_ids = keras.Input((None,), dtype="int32", name="token_ids")
        embed = (ReversibleEmbedding if tie_weights else keras.layers.Embedding)(
            vocabulary_size, embedding_dim, name="token_embedding"
        )
        x = embed(token_ids)
        if embedding_dropout:
            x = EmbeddingDropout(embedding_dropout, vocabulary_size, name="embedding_dropout")(x, token_ids)

        def drop(name):
            return LockedDropout(dropout, name=name) if variational_dropout else keras.layers.Dropout(dropout, name=name)

        if dropout:
            x = drop("input_dropout")(x)
        for i in range(num_layers):
            x = recurrent_layer(
                cell, units, return_sequences=True, return_state=True, recurrent_dropout=recurrent_dropout,
                activation=activation, name=f"recurrent_{i}",
            )(x)[0]
            if dropout:
                x = drop(f"dropout_{i}")(x)
        if tie_weights and units != embedding_dim:
            x = keras.layers.Dense(embedding_dim, name="tie_projection")(x)
        super().__init__(inputs=token_ids, outputs=x, **kwargs)
        self._keep_arguments(
            vocabulary_size=vocabulary_size, cell=cell, units=units, num_layers=num_layers, embedding_dim=embedding_dim,
            dropout=dropout, variational_dropout=variational_dropout, embedding_dropout=embedding_dropout,
            recurrent_dropout=recurrent_dropout, activation=activation, tie_weights=tie_weights,
        )

    @property
    def token_embedding(self):
        return self.get_layer("token_embedding")

    @property
    def recurrent_layers(self):
        return [self.get_layer(f"recurrent_{i}") for i in range(self.num_layers)]

    def features(self, x):
        """Last-layer outputs -> features (the tie projection when there is one; inference: no dropout)."""
        if self.tie_weights and self.units != self.embedding_dim:
            x = self.get_layer("tie_projection")(x)
        return x

    def initial_states(self, batch_size):
        """Zero states: one list per layer (`[h]`, or `[h, c]` for LSTM), each `(batch, units)`."""
        return [list(layer.get_initial_state(batch_size)) for layer in self.recurrent_layers]

    def run(self, token_ids, states, mask=None):
        """Inference over a sequence from given states: `(features (batch, time, dim), final states)`.

        `mask` `(batch, time)` bool marks real steps of right-padded rows; a
        padded step keeps the state, so each row's final state is the one
        after its last real token.
        """
        x = self.token_embedding(token_ids)
        new_states = []
        for layer, state in zip(self.recurrent_layers, states):
            # The explicit state wins over a carried one (`LanguageModel.carried_state`): a layer that is
            # stateful while training is called here as a stateless one, and its carried state is untouched.
            stateful, layer.stateful = layer.stateful, False
            try:
                x, *state = layer(x, initial_state=state, mask=mask, training=False)
            finally:
                layer.stateful = stateful
            new_states.append(state)
        return self.features(x), new_states

    def step(self, token_ids, states):
        """One time step of every layer's cell: `(batch,)` ids -> `(features (batch, dim), new states)`."""
        x = self.token_embedding(token_ids)
        new_states = []
        for layer, state in zip(self.recurrent_layers, states):
            x, state = layer.cell(x, state, training=False)
            new_states.append(list(state) if isinstance(state, (list, tuple)) else [state])
        return self.features(x), new_states
