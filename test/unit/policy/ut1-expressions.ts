/**
 * The four URL regex rules of UT1's `expressions` files (../shared/data/ut1/<category>/expressions, as
 * fetched for issue 13), copied here so tests do not depend on the shared data being present.
 */
export const UT1_EXPRESSIONS: readonly { list: string; source: string }[] = [
  { list: 'publicite', source: '(/banner/|/sponsor/|/event.ng/|/Advertisement/|adverts/)' },
  { list: 'malware', source: '^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+/search\\?q=[0-9]+$' },
  {
    list: 'strict_redirector',
    source:
      '((google\\..*/search.q=cache)|(images.google.[a-z]+/images.q=tbn)|(alltheweb.com/search.*cat=img)|(re2.mm-.yimg.com/image))',
  },
  {
    list: 'strong_redirector',
    source:
      '((google\\..*/search\\?q=cache.*)|(bing\\.com/videos/search\\?q=.*)|(images\\.google\\..*/images\\?.*q=.*)|(alltheweb.com/search.*cat=img.*q=.*)|(images.aol.*/image\\?.*query=.*)|(altavista.*/(image|video)/results\\?.*q=.*)|(images.search.yahoo.*/(images?|videos?)\\?.*p=.*))(anal|dick|chick|chix|xxx|hentai|babe|eroti|porn|hard|sex|slut|fetish|smut|teen|lust|adult|lesb|puss|charme|girl|amateur|love|liberti|coqui|bust|breast|boob|voyeur|escort|pinup|nude|cum|hot|gay|nue|salop|breast|poil|sodom|pute|putain|putas|sein|fetich|bite|couille|pubis)',
  },
];
