"""What people send: the bodies the API and the browser's forms share, validated and
normalised the same way for both (webapp.text), with the JSON Schema the OpenAPI document
states. The domain takes these models; nothing here knows about HTTP."""
