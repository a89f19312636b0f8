import '@testing-library/jest-dom/vitest';

// jsdom has no 2D canvas: the live chart then skips drawing (and keeps counting frames).
HTMLCanvasElement.prototype.getContext = (() => null) as typeof HTMLCanvasElement.prototype.getContext;
