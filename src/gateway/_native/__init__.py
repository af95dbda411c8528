"""Workers AI's native API: `POST /ai/run/{model}` and the model's input forms."""
