"""Operations: durable records of asynchronous work, each with a fixed state machine."""
