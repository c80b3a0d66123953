// Vite's client types: `?url` imports and import.meta.env for the example page.
/// <reference types="vite/client" />
