import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { theme } from '$lib/stores/theme.svelte';
import { markStart } from '$lib/startupTrace';

// Imports run first: this is the moment the bundle was fetched, parsed and evaluated.
markStart('main');
theme.apply();

const app = mount(App, { target: document.getElementById('app')! });
markStart('mounted');

export default app;
