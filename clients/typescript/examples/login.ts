// Sign in, then list the student's notes: the README's example, type-checked with the package.
import { authLogin, client, notesListNotes } from '../src';

export async function listMyNotes(baseUrl: string, email: string, password: string) {
  client.setConfig({ baseUrl });

  const login = await authLogin({ body: { email, password } });
  if (login.error) {
    throw new Error(`${login.error.code}: ${login.error.message}`);
  }
  const { access_token: accessToken } = login.data;

  // Every call that needs a bearer token asks this for it.
  client.setConfig({ baseUrl, auth: () => accessToken });

  const notes = await notesListNotes({ query: { limit: 10 }, throwOnError: true });
  return notes.data.items.map((note) => note.title);
}
