import { ApiError, type Api } from './api.js'
import type { SessionInfo } from './api-types.js'

/** The current session, or null when there is none (the page shows sign-in). Other failures reject. */
export async function probeSession (api: Api): Promise<SessionInfo | null> {
  try {
    return await api.get<SessionInfo>('/v1/session', { allow401: true })
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null
    throw err
  }
}

/** Ends the session on the controller. A 401 or 403 means it is gone already; only an unreachable controller rejects. */
export async function endSession (api: Api): Promise<void> {
  try {
    await api.delete('/v1/session', { allow401: true })
  } catch (err) {
    if (err instanceof ApiError && err.status === 0) throw err
  }
}

/** The sentence for a failed sign-in. */
export function signInError (err: unknown): string {
  if (!(err instanceof ApiError)) return String(err)
  if (err.status === 401) return 'Wrong key.'
  if (err.status === 429) return 'Too many failed attempts from this address; wait a minute and try again.'
  return err.message
}

/**
 * The sign-in form: the key goes in a password field and straight into the POST body, never into the URL or
 * browser storage, and the field is emptied once the controller answers.
 */
export class SignInForm {
  private readonly view: HTMLElement
  private readonly form: HTMLFormElement
  private readonly input: HTMLInputElement
  private readonly error: HTMLElement
  private readonly submit: HTMLButtonElement

  constructor (view: HTMLElement, api: Api, onSignedIn: (s: SessionInfo) => void) {
    this.view = view
    this.form = view.querySelector('form')!
    this.input = this.form.querySelector('input[name="key"]')!
    this.error = view.querySelector('[data-testid="sign-in-error"]')!
    this.submit = this.form.querySelector('button[type="submit"]')!
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault()
      const key = this.input.value.trim()
      if (key === '') return
      this.submit.disabled = true
      this.showError(null)
      api.post<SessionInfo>('/v1/session', { key }, { allow401: true }).then(
        (s) => { this.input.value = ''; onSignedIn(s) },
        (err: unknown) => { this.input.value = ''; this.showError(signInError(err)); this.input.focus() }
      ).finally(() => { this.submit.disabled = false })
    })
  }

  /** Shows the form, with `message` (why the operator is here again) when given. */
  show (message: string | null = null): void {
    this.view.hidden = false
    this.showError(message)
    this.input.focus()
  }

  hide (): void {
    this.view.hidden = true
  }

  private showError (message: string | null): void {
    this.error.hidden = message === null
    this.error.textContent = message ?? ''
  }
}
