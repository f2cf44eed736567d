import t from 'tap'
import { apiUrl, parseControllerUrl } from '../../lib/client/url.js'

t.test('a controller URL keeps its scheme, host, port and path prefix', async (t) => {
  const cases: Array<[string, { href: string, protocol: string, host: string, port: number, basePath: string }]> = [
    ['http://127.0.0.1:8080', { href: 'http://127.0.0.1:8080', protocol: 'http:', host: '127.0.0.1', port: 8080, basePath: '' }],
    ['http://198.18.0.1:8080/', { href: 'http://198.18.0.1:8080', protocol: 'http:', host: '198.18.0.1', port: 8080, basePath: '' }],
    ['https://ctl.example', { href: 'https://ctl.example', protocol: 'https:', host: 'ctl.example', port: 443, basePath: '' }],
    ['https://proxy.example/weft/', { href: 'https://proxy.example/weft', protocol: 'https:', host: 'proxy.example', port: 443, basePath: '/weft' }],
    ['https://proxy.example:8443/a/b', { href: 'https://proxy.example:8443/a/b', protocol: 'https:', host: 'proxy.example', port: 8443, basePath: '/a/b' }],
    ['http://[::1]:8080', { href: 'http://[::1]:8080', protocol: 'http:', host: '::1', port: 8080, basePath: '' }],
    ['  HTTPS://Ctl.Example:443/  ', { href: 'https://ctl.example', protocol: 'https:', host: 'ctl.example', port: 443, basePath: '' }]
  ]
  for (const [input, want] of cases) t.same(parseControllerUrl(input), want, input)
})

t.test('API paths go below the prefix', async (t) => {
  t.equal(apiUrl(parseControllerUrl('https://proxy.example/weft/'), '/v1/nodes').href, 'https://proxy.example/weft/v1/nodes')
  t.equal(apiUrl(parseControllerUrl('http://127.0.0.1:8080'), '/v1/netmap/stream?epoch=e&since=3').href, 'http://127.0.0.1:8080/v1/netmap/stream?epoch=e&since=3')
})

t.test('each unusable URL fails with a sentence that says what to write', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['198.18.0.1:8443', /"198\.18\.0\.1:8443" has no scheme: write https:\/\/198\.18\.0\.1:8443 if the controller serves TLS \(--tls-cert\), or http:\/\/198\.18\.0\.1:8443/],
    ['controller:8080', /has no scheme: write https:\/\/controller:8080/],
    ['[::1]:8080', /has no scheme/],
    ['ctl.example', /has no scheme/],
    ['ftp://ctl.example', /uses the scheme ftp, but the controller speaks only http:\/\/ or https:\/\//],
    ['ws://ctl.example', /uses the scheme ws/],
    ['http://user:pw@ctl.example', /must not carry a user name or password/],
    ['http://ctl.example/?x=1', /must not have a query or fragment/],
    ['http://ctl.example/#top', /must not have a query or fragment/],
    ['', /is empty/],
    ['http://', /is not a URL/],
    ['http://exa mple.com', /is not a URL/]
  ]
  for (const [input, message] of cases) t.throws(() => parseControllerUrl(input), { code: 'WEFT_ERR_CONFIG', message }, input)
  t.throws(() => parseControllerUrl('nope', '--controller'), { message: /^--controller "nope" has no scheme/ })
})
